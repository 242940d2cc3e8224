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
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

// fileOut is an uploaded file as the API shows it.
type fileOut struct {
	ID        string    `json:"id"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Name      string    `json:"name"`
	Source    string    `json:"source"`
	Site      string    `json:"site"`
	CreatedAt time.Time `json:"created_at"`
}

func showFile(f store.StoredFile) fileOut {
	return fileOut{ID: f.ID, SHA256: f.SHA256, Size: f.Size, Name: f.Name, Source: f.Source, Site: f.Site, CreatedAt: f.CreatedAt}
}

func (s *Server) handleUploadFile(w http.ResponseWriter, r *http.Request, u *store.User) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return &apiError{status: http.StatusUnsupportedMediaType, typ: ProblemInvalidRequest,
			detail: "upload the file as multipart/form-data with a \"file\" part and a \"source\" field"}
	}
	// The whole body is bounded by the file limit plus room for the other fields.
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxFileSize+MaxJSONBody)
	mr, err := r.MultipartReader()
	if err != nil {
		return badRequest("bad multipart body: %v", err)
	}
	var (
		rec  store.StoredFile
		up   *store.Staged // the file's content, until it is committed
		site string
	)
	// Content of a refused upload is not kept.
	defer func() { up.Discard() }()
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return badRequest("bad multipart body: %v", err)
		}
		switch p.FormName() {
		case "file":
			if up != nil {
				return badRequest("one \"file\" part per upload")
			}
			up, err = s.files.Stage(p, s.cfg.MaxFileSize)
			if err != nil {
				var mbe *http.MaxBytesError
				var tle *store.TooLargeError
				if errors.As(err, &mbe) || errors.As(err, &tle) {
					return &apiError{status: http.StatusRequestEntityTooLarge, typ: ProblemTooLarge,
						detail: fmt.Sprintf("the file is larger than the limit of %d bytes", s.cfg.MaxFileSize)}
				}
				return internal(err)
			}
			rec.SHA256, rec.Size = up.SHA256, up.Size
			rec.Name = filepath.Base(strings.ReplaceAll(p.FileName(), `\`, "/"))
			if rec.Name == "." || rec.Name == "/" {
				rec.Name = ""
			}
		case "source", "site":
			b, err := io.ReadAll(io.LimitReader(p, 256))
			if err != nil {
				return badRequest("bad multipart body: %v", err)
			}
			if p.FormName() == "source" {
				rec.Source = strings.TrimSpace(string(b))
			} else {
				site = string(b)
			}
		default:
			return badRequest("unknown form field %q (want file, source and optionally site)", p.FormName())
		}
		p.Close()
	}
	if up == nil {
		return badRequest("no \"file\" part in the upload")
	}
	switch {
	case rec.Source == "":
		return badRequest("the \"source\" field is required: %s", orList(store.FileSources()))
	case !slices.Contains(store.FileSources(), rec.Source):
		return badRequest("source %q is not %s", rec.Source, orList(store.FileSources()))
	}
	if rec.Site, err = siteFor(u, site); err != nil {
		return err
	}
	rec.ID, rec.Uploader = newID("f_"), u.Name
	if err := up.Commit(); err != nil {
		return internal(err)
	}
	if err := s.cfg.Store.CreateFile(r.Context(), rec); err != nil {
		return internal(err)
	}
	rec, err = s.cfg.Store.GetFile(r.Context(), rec.ID)
	if err != nil {
		return internal(err)
	}
	s.log.InfoContext(r.Context(), "file uploaded", "id", rec.ID, "sha256", rec.SHA256, "size", rec.Size, "source", rec.Source, "site", rec.Site)
	w.Header().Set("Location", "/api/v1/files/"+rec.ID)
	writeJSON(w, http.StatusCreated, showFile(rec))
	return nil
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
	writeJSON(w, http.StatusOK, showFile(f))
	return nil
}
