package vtsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// File downloads (premium, as on VirusTotal): GET /files/{id}/download_url answers
// {"data": "<signed URL>"}, a URL of this emulator (<base>/_download/<token>) that
// needs no API key and expires after an hour; GET /files/{id}/download redirects
// (302) to such a URL. Both count one download in the key's
// intelligence_downloads_monthly quota. The emulator keeps no sample collection: it
// can serve the bytes of the EICAR test file and of files uploaded to it (up to
// maxKeptContent each, maxKeptTotal in all, older ones forgotten first); the URL of
// any other file answers 404 NotFoundError when fetched.

const (
	downloadTTL    = time.Hour
	maxKeptContent = 4 << 20
	maxKeptTotal   = 64 << 20
)

// keepWriter buffers what is written to it, up to max bytes; past max it keeps
// nothing.
type keepWriter struct {
	max  int
	buf  []byte
	over bool
}

func (k *keepWriter) Write(p []byte) (int, error) {
	if !k.over {
		if len(k.buf)+len(p) > k.max {
			k.over, k.buf = true, nil
		} else {
			k.buf = append(k.buf, p...)
		}
	}
	return len(p), nil
}

func (k *keepWriter) bytes() []byte {
	if k.over {
		return nil
	}
	if k.buf == nil {
		return []byte{}
	}
	return k.buf
}

// keepContent remembers an uploaded file's bytes (nil: too large to keep), forgetting
// others when the total would exceed maxKeptTotal. Caller holds s.mu.
func (s *Server) keepContent(sha string, b []byte) {
	if b == nil || len(b) > maxKeptContent {
		return
	}
	if old, ok := s.contents[sha]; ok {
		s.kept -= int64(len(old))
	}
	for k, v := range s.contents {
		if s.kept+int64(len(b)) <= maxKeptTotal {
			break
		}
		delete(s.contents, k)
		s.kept -= int64(len(v))
	}
	s.contents[sha] = b
	s.kept += int64(len(b))
}

// eicarContent is the EICAR test file, assembled at run time so that this source
// file does not itself carry the signature.
func eicarContent() []byte {
	parts := []string{`X5O!P%@AP[4\PZX54(P^)7CC)7}$`, "EICAR-STANDARD-ANTIVIRUS", "-TEST-FILE!$H+H*"}
	return []byte(strings.Join(parts, ""))
}

// contentOf returns the bytes of a file, when the emulator has them.
func (s *Server) contentOf(sha string) ([]byte, bool) {
	if sha == eicarSHA256 {
		return eicarContent(), true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.contents[sha]
	return b, ok
}

func (s *Server) downloadToken(sha string, expires time.Time) string {
	payload := sha + "|" + strconv.FormatInt(expires.Unix(), 10)
	mac := hmac.New(sha256.New, s.widgetKey)
	mac.Write([]byte("download|" + payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload + "|" + hex.EncodeToString(mac.Sum(nil))))
}

func (s *Server) parseDownloadToken(tok string) (sha string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", false
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 3 {
		return "", false
	}
	mac := hmac.New(sha256.New, s.widgetKey)
	mac.Write([]byte("download|" + parts[0] + "|" + parts[1]))
	if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(parts[2])) {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || s.now().After(time.Unix(exp, 0)) {
		return "", false
	}
	return parts[0], true
}

// signedDownload checks the caller may download the file and returns its signed URL,
// or answers the error itself.
func (s *Server) signedDownload(w http.ResponseWriter, r *http.Request, c *call) (string, bool) {
	if !c.premium {
		writeError(w, http.StatusForbidden, codeForbidden, "You are not authorized to perform the requested operation")
		return "", false
	}
	sha, ok := s.resolveObject(w, "files", r.PathValue("id"))
	if !ok {
		return "", false
	}
	s.countPremium(c.keyHash, true)
	return c.base + "/_download/" + s.downloadToken(sha, s.now().Add(downloadTTL)), true
}

// downloadURL serves GET /files/{id}/download_url.
func (s *Server) downloadURL(w http.ResponseWriter, r *http.Request, c *call) {
	u, ok := s.signedDownload(w, r, c)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": u})
}

// download serves GET /files/{id}/download: a redirect to the signed URL.
func (s *Server) download(w http.ResponseWriter, r *http.Request, c *call) {
	u, ok := s.signedDownload(w, r, c)
	if !ok {
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}

// downloadContent serves a signed download URL: the file's bytes, no key needed.
func (s *Server) downloadContent(w http.ResponseWriter, r *http.Request) {
	sha, ok := s.parseDownloadToken(r.PathValue("token"))
	if !ok {
		writeError(w, http.StatusForbidden, codeForbidden, "The download URL is invalid or expired")
		return
	}
	b, ok := s.contentOf(sha)
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound,
			fmt.Sprintf("vtsim has no content for file %s: only the EICAR test file and files uploaded to this emulator can be downloaded", sha))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
