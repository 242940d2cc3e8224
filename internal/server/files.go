package server

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vtsoar/vtsoar/internal/store"
)

// upload is a multipart upload read by readUpload: the file's content staged in the
// file store, its name, and the form's other fields.
type upload struct {
	staged *store.Staged
	name   string
	fields map[string]string
}

// readUpload reads a multipart/form-data body: one "file" part, streamed to the file
// store up to Config.MaxFileSize (413 past it), and the fields named in fields (each
// at most 256 bytes); anything else is refused. The caller discards up.staged unless
// it keeps it. usage says what the body holds, for the error of another content type.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request, fields []string, usage string) (up upload, err error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return up, &apiError{status: http.StatusUnsupportedMediaType, typ: ProblemInvalidRequest,
			detail: "upload the file as multipart/form-data " + usage}
	}
	// The whole body is bounded by the file limit plus room for the other fields.
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxFileSize+MaxJSONBody)
	mr, err := r.MultipartReader()
	if err != nil {
		return up, badRequest("bad multipart body: %v", err)
	}
	// Content of a refused upload is not kept.
	defer func() {
		if err != nil {
			up.staged.Discard()
			up.staged = nil
		}
	}()
	up.fields = map[string]string{}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return up, err
			}
			return up, badRequest("bad multipart body: %v", err)
		}
		switch name := p.FormName(); {
		case name == "file":
			if up.staged != nil {
				return up, badRequest("one \"file\" part per upload")
			}
			up.staged, err = s.files.Stage(p, s.cfg.MaxFileSize)
			if err != nil {
				var mbe *http.MaxBytesError
				var tle *store.TooLargeError
				if errors.As(err, &mbe) || errors.As(err, &tle) {
					return up, &apiError{status: http.StatusRequestEntityTooLarge, typ: ProblemTooLarge,
						detail: fmt.Sprintf("the file is larger than the limit of %d bytes", s.cfg.MaxFileSize)}
				}
				return up, internal(err)
			}
			up.name = filepath.Base(strings.ReplaceAll(p.FileName(), `\`, "/"))
			if up.name == "." || up.name == "/" {
				up.name = ""
			}
		case slices.Contains(fields, name):
			b, err := io.ReadAll(io.LimitReader(p, 256))
			if err != nil {
				return up, badRequest("bad multipart body: %v", err)
			}
			up.fields[name] = string(b)
		default:
			want := "file"
			if len(fields) > 0 {
				want = "file and optionally " + orList(fields)
			}
			return up, badRequest("unknown form field %q (want %s)", name, want)
		}
		p.Close()
	}
	if up.staged == nil {
		return up, badRequest("no \"file\" part in the upload")
	}
	if err := store.CheckText("file name", up.name); err != nil {
		return up, badRequest("%v", err)
	}
	return up, nil
}

// keepUpload records an upload read by readUpload as rec, answers 201 with the file
// and logs it.
func (s *Server) keepUpload(w http.ResponseWriter, r *http.Request, up upload, rec store.StoredFile) error {
	defer up.staged.Discard()
	rec.ID, rec.Name = store.NewFileID(), up.name
	f, err := s.files.Keep(r.Context(), up.staged, rec)
	if err != nil {
		return internal(err)
	}
	s.log.InfoContext(r.Context(), "file uploaded", "id", f.ID, "sha256", f.SHA256, "size", f.Size, "source", f.Source,
		"site", f.Site, "incident", f.IncidentID)
	w.Header().Set("Location", "/api/v1/files/"+f.ID)
	writeJSON(w, http.StatusCreated, f.View())
	return nil
}

func (s *Server) handleUploadFile(w http.ResponseWriter, r *http.Request, u *store.User) error {
	up, err := s.readUpload(w, r, []string{"source", "site"}, `with a "file" part and a "source" field`)
	if err != nil {
		return err
	}
	rec := store.StoredFile{Uploader: u.Name}
	src, ok := up.fields["source"]
	if !ok {
		up.staged.Discard()
		return badRequest("the \"source\" field is required: %s", orList(store.FileSources()))
	}
	if rec.Source, err = store.ParseFileSource(src); err != nil {
		up.staged.Discard()
		return badRequest("%v", err)
	}
	if rec.Site, err = siteFor(u, up.fields["site"]); err != nil {
		up.staged.Discard()
		return err
	}
	return s.keepUpload(w, r, up, rec)
}

func (s *Server) handleGetFile(w http.ResponseWriter, r *http.Request, u *store.User) error {
	id := r.PathValue("id")
	f, err := s.cfg.Store.GetFile(r.Context(), id)
	if err == nil && !seesSite(u, f.Site) {
		err = store.ErrNotFound // another site's file is not there for u
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no file %q", id)
	}
	if err != nil {
		return internal(err)
	}
	writeJSON(w, http.StatusOK, f.View())
	return nil
}

// filesOut is the answer of GET /api/v1/files.
type filesOut struct {
	Files []store.FileView `json:"files"`
	// NextCursor, when there may be more, is the ?cursor= of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// handleListFiles answers the files of the user's sites, newest first, of a source
// (?source=) and of an incident (?incident=, which must be one the user sees).
func (s *Server) handleListFiles(w http.ResponseWriter, r *http.Request, u *store.User) error {
	page, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.FileFilter{Sites: userSites(u)}
	if src := q.Get("source"); src != "" {
		if f.Source, err = store.ParseFileSource(src); err != nil {
			return badRequest("source: %v", err)
		}
	}
	if id := q.Get("incident"); id != "" {
		if _, err := s.incidentFor(r.Context(), u, id); err != nil {
			return err
		}
		f.Incident = id
	}
	files, err := s.cfg.Store.ListFiles(r.Context(), f, page)
	if err != nil {
		return internal(err)
	}
	var out filesOut
	out.Files, out.NextCursor = paged(page, files, store.StoredFile.View, store.StoredFile.Cursor)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// paged returns the views of a page of rows, and the next_cursor of the page after it
// ("" when the page was not full).
func paged[T, V any](p store.Page, rows []T, view func(T) V, at func(T) store.Cursor) ([]V, string) {
	out := make([]V, len(rows))
	for i, r := range rows {
		out[i] = view(r)
	}
	if len(rows) == 0 {
		return out, ""
	}
	return out, store.NextCursor(p, len(rows), at(rows[len(rows)-1])).String()
}

// pageParams reads ?limit= (1 to 1000, default 100) and ?cursor= (a next_cursor this
// list gave).
func pageParams(r *http.Request) (store.Page, error) {
	limit, err := limitParam(r, store.DefaultPageLimit, 1000)
	if err != nil {
		return store.Page{}, err
	}
	after, err := store.ParseCursor(r.URL.Query().Get("cursor"))
	if err != nil {
		return store.Page{}, badRequest("cursor: %v", err)
	}
	return store.Page{Limit: limit, After: after}, nil
}
