package vtsim

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// analysis is one file or URL analysis.
type analysis struct {
	id      string
	file    *fileRec
	url     *urlRec
	created time.Time
	done    time.Time
}

// Upload limits, as VirusTotal's: 32 MB by POST /files, 650 MB by an upload URL.
const (
	maxDirectUpload = 32 << 20
	maxURLUpload    = 650 << 20
	uploadURLTTL    = time.Hour
)

// newAnalysis starts an analysis. Caller holds s.mu.
func (s *Server) newAnalysis(f *fileRec, u *urlRec) *analysis {
	now := s.now()
	a := &analysis{file: f, url: u, created: now, done: now.Add(s.opts.AnalysisTime)}
	for ts := now.Unix(); ; ts++ {
		if f != nil {
			a.id = base64.StdEncoding.EncodeToString([]byte(f.md5 + ":" + strconv.FormatInt(ts, 10)))
		} else {
			a.id = "u-" + u.id + "-" + strconv.FormatInt(ts, 10)
		}
		if s.analyses[a.id] == nil {
			break
		}
	}
	s.analyses[a.id] = a
	if f != nil {
		s.cache.Delete(f.sha256)
		if f.uploaded && f.availableAt.IsZero() {
			f.availableAt = a.done
		}
	} else {
		u.analyses = append(u.analyses, a.done)
	}
	return a
}

func analysisRef(c *call, a *analysis) map[string]any {
	return map[string]any{"data": map[string]any{
		"type":  "analysis",
		"id":    a.id,
		"links": map[string]any{"self": c.base + "/api/v3/analyses/" + a.id},
	}}
}

// readUpload streams the "file" part of a multipart body, hashing it; nothing is kept
// but the hashes, the size and the file name.
func readUpload(w http.ResponseWriter, r *http.Request, limit int64) (rec *fileRec, ok bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "Expected a multipart/form-data body with a \"file\" field")
		return nil, false
	}
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "Malformed multipart body")
		return nil, false
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, "Malformed multipart body")
			return nil, false
		}
		if part.FormName() != "file" {
			continue
		}
		hm, h1, h256 := md5.New(), sha1.New(), sha256.New()
		kept := &keepWriter{max: maxKeptContent}
		n, err := io.Copy(io.MultiWriter(hm, h1, h256, kept), io.LimitReader(part, limit+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, "Could not read the uploaded file")
			return nil, false
		}
		if n > limit {
			writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
				fmt.Sprintf("File too large: the limit is %d MB", limit>>20))
			return nil, false
		}
		return &fileRec{
			md5:     hex.EncodeToString(hm.Sum(nil)),
			sha1:    hex.EncodeToString(h1.Sum(nil)),
			sha256:  hex.EncodeToString(h256.Sum(nil)),
			size:    n,
			name:    part.FileName(),
			content: kept.bytes(),
		}, true
	}
	writeError(w, http.StatusBadRequest, codeBadRequest, "No file was provided in the \"file\" field")
	return nil, false
}

// acceptUpload records an uploaded file and starts its analysis.
func (s *Server) acceptUpload(w http.ResponseWriter, c *call, up *fileRec) {
	content := up.content
	up.content = nil
	s.mu.Lock()
	rec := s.files[up.sha256]
	if rec == nil {
		rec = up
		rec.seed = digestOf(up.sha256)
		rec.eicar = up.sha256 == eicarSHA256
	} else {
		// The real bytes settle the hashes an earlier lookup derived.
		for _, h := range []string{rec.md5, rec.sha1} {
			if s.files[h] == rec {
				delete(s.files, h)
			}
		}
		rec.md5, rec.sha1, rec.size = up.md5, up.sha1, up.size
		if up.name != "" {
			rec.name = up.name
		}
	}
	rec.uploaded = true
	s.remember(rec)
	s.keepContent(rec.sha256, content)
	a := s.newAnalysis(rec, nil)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, analysisRef(c, a))
}

func (s *Server) postFile(w http.ResponseWriter, r *http.Request, c *call) {
	up, ok := readUpload(w, r, maxDirectUpload)
	if !ok {
		return
	}
	s.acceptUpload(w, c, up)
}

func (s *Server) uploadURL(w http.ResponseWriter, r *http.Request, c *call) {
	var b [24]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	s.mu.Lock()
	now := s.now()
	for t, exp := range s.uploads {
		if now.After(exp) {
			delete(s.uploads, t)
		}
	}
	s.uploads[token] = now.Add(uploadURLTTL)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": c.base + "/_upload/" + token})
}

func (s *Server) uploadToURL(w http.ResponseWriter, r *http.Request, c *call) {
	token := r.PathValue("token")
	s.mu.Lock()
	exp, found := s.uploads[token]
	delete(s.uploads, token) // single use, even if the upload then fails
	s.mu.Unlock()
	if !found || s.now().After(exp) {
		writeError(w, http.StatusBadRequest, codeBadRequest, "The upload URL is invalid, expired or was already used")
		return
	}
	up, ok := readUpload(w, r, maxURLUpload)
	if !ok {
		return
	}
	s.acceptUpload(w, c, up)
}

func (s *Server) analyseFile(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	rec, raw := s.lookupFile(id)
	if raw != nil {
		var env struct {
			Data struct {
				Attributes struct {
					MD5, SHA1, SHA256 string
					Size              int64
				} `json:"attributes"`
			} `json:"data"`
		}
		json.Unmarshal(raw, &env)
		at := env.Data.Attributes
		s.mu.Lock()
		if rec = s.files[strings.ToLower(at.SHA256)]; rec == nil && at.SHA256 != "" {
			rec = &fileRec{md5: at.MD5, sha1: at.SHA1, sha256: at.SHA256, size: at.Size, seed: digestOf(at.SHA256)}
		}
		s.mu.Unlock()
	}
	if rec == nil {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("File %q not found", id))
		return
	}
	s.mu.Lock()
	a := s.newAnalysis(rec, nil)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, analysisRef(c, a))
}

// analyseURL serves POST /urls/{id}/analyse: a new analysis of a URL the emulator
// knows (by either id form), answered with its descriptor.
func (s *Server) analyseURL(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	sid, text, _, exists, raw := s.lookupURL(id)
	if !exists && raw == nil {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("URL %q not found", id))
		return
	}
	s.mu.Lock()
	ur := s.rememberURL(text, sid)
	a := s.newAnalysis(nil, ur)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, analysisRef(c, a))
}

func (s *Server) postURL(w http.ResponseWriter, r *http.Request, c *call) {
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		writeError(w, http.StatusBadRequest, codeBadRequest, "Malformed form body")
		return
	}
	raw := strings.TrimSpace(r.PostFormValue("url"))
	if raw == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "Missing the \"url\" form field")
		return
	}
	u, err := canonicalURL(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf("Unable to canonicalize url: %q", raw))
		return
	}
	s.mu.Lock()
	ur := s.rememberURL(u, urlSHA256ID(u))
	a := s.newAnalysis(nil, ur)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, analysisRef(c, a))
}

func (s *Server) getAnalysis(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	s.mu.Lock()
	a := s.analyses[id]
	var f fileRec
	var u urlRec
	if a != nil && a.file != nil {
		f = *a.file
	}
	if a != nil && a.url != nil {
		u = *a.url
	}
	s.mu.Unlock()
	if a == nil {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("Analysis %q not found", id))
		return
	}
	now := s.now()
	var scans []scan
	var keys []string
	meta := map[string]any{}
	links := map[string]any{"self": c.base + "/api/v3/analyses/" + a.id}
	if a.file != nil {
		scans, keys = fileScansOf(&f), fileStatKeys
		size := f.size
		if size == 0 {
			size = fileAttributes(&f)["size"].(int64)
		}
		meta["file_info"] = map[string]any{"sha256": f.sha256, "sha1": f.sha1, "md5": f.md5, "size": size}
		links["item"] = c.base + "/api/v3/files/" + f.sha256
	} else {
		scans, keys = networkScans(digestOf(u.id), digestOf(u.id).verdict(len(networkEngines))), networkStatKeys
		meta["url_info"] = map[string]any{"id": u.id, "url": u.url}
		links["item"] = c.base + "/api/v3/urls/" + u.id
	}
	status := "completed"
	total := s.opts.AnalysisTime
	elapsed := now.Sub(a.created)
	switch {
	case now.Before(a.done) && elapsed < total/3:
		status, scans = "queued", nil
	case now.Before(a.done):
		status = "in-progress"
		scans = scans[:int(int64(len(scans))*int64(elapsed)/int64(total))]
	}
	attrs := map[string]any{
		"date":    a.created.Unix(),
		"status":  status,
		"stats":   statsOf(scans, keys),
		"results": resultsOf(scans, a.file != nil, a.created.Unix()),
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data": map[string]any{"type": "analysis", "id": a.id, "links": links, "attributes": attrs},
		"meta": meta,
	})
}
