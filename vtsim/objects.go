package vtsim

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vtsoar/vtsoar/internal/jsonenc"
	"github.com/vtsoar/vtsoar/ioc"
)

// urlRec is a URL the emulator has seen by its text (scanned, or produced by a
// relationship), so that its sha256 id can be answered with the right "url" attribute.
type urlRec struct {
	url, id  string
	analyses []time.Time // completion times of its analyses
}

// cachedBody memoises the rendered GET answer of an object that cannot change.
type cachedBody struct {
	base string
	body []byte
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// hashKind names the hash algorithm of a file id by its length, or "".
func hashKind(id string) string {
	if !isHex(id) {
		return ""
	}
	switch len(id) {
	case 32:
		return "md5"
	case 40:
		return "sha1"
	case 64:
		return "sha256"
	}
	return ""
}

// lookupFile finds the file a hash names. raw is set when the file comes from DataDir.
func (s *Server) lookupFile(id string) (rec *fileRec, raw []byte) {
	id = strings.ToLower(id)
	kind := hashKind(id)
	if kind == "" {
		return nil, nil
	}
	if b, ok := s.data["file:"+id]; ok {
		return nil, b
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.files[id]; rec != nil {
		if rec.uploaded && !rec.seed.exists() && (rec.availableAt.IsZero() || now.Before(rec.availableAt)) {
			return nil, nil
		}
		return rec, nil
	}
	if isZeroHex(id) || !digestOf(id).exists() {
		return nil, nil
	}
	rec = &fileRec{seed: digestOf(id)}
	switch kind {
	case "md5":
		rec.md5, rec.sha1, rec.sha256 = id, deriveHash("sha1", id), deriveHash("sha256", id)
	case "sha1":
		rec.md5, rec.sha1, rec.sha256 = deriveHash("md5", id), id, deriveHash("sha256", id)
	default:
		rec.md5, rec.sha1, rec.sha256 = deriveHash("md5", id), deriveHash("sha1", id), id
	}
	s.remember(rec)
	return rec, nil
}

// remember registers a file under its three hashes. Caller holds s.mu.
func (s *Server) remember(rec *fileRec) {
	if len(s.files) >= maxRecords {
		for k, r := range s.files {
			if !r.uploaded && r.analysedAt.IsZero() && !r.eicar {
				delete(s.files, k)
			}
		}
	}
	s.files[rec.md5], s.files[rec.sha1], s.files[rec.sha256] = rec, rec, rec
}

// refreshFile applies completed analyses to a file (its last_analysis_date). Caller
// holds s.mu.
func (s *Server) fileAnalysedAt(rec *fileRec, now time.Time) time.Time {
	var last time.Time
	for _, a := range s.analyses {
		if a.file == rec && !now.Before(a.done) && a.done.After(last) {
			last = a.done
		}
	}
	return last
}

func objectEnvelope(c *call, typ, collection, id string, attrs map[string]any) map[string]any {
	return map[string]any{
		"type":       typ,
		"id":         id,
		"links":      map[string]any{"self": c.base + "/api/v3/" + collection + "/" + id},
		"attributes": attrs,
	}
}

// fileObject renders a file object (without the {"data":...} envelope).
func (s *Server) fileObject(c *call, rec *fileRec) map[string]any {
	now := s.now()
	s.mu.Lock()
	cp := *rec
	cp.analysedAt = s.fileAnalysedAt(rec, now)
	s.mu.Unlock()
	return objectEnvelope(c, "file", "files", rec.sha256, fileAttributes(&cp))
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	rec, raw := s.lookupFile(id)
	if raw != nil {
		writeRaw(w, http.StatusOK, raw)
		return
	}
	if rec == nil {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("File %q not found", id))
		return
	}
	rels := r.URL.Query().Get("relationships")
	if rels == "" {
		// Objects nobody uploaded or analysed never change: serve them from a cache.
		if v, ok := s.cache.Load(rec.sha256); ok {
			if cb := v.(*cachedBody); cb.base == c.base {
				writeRaw(w, http.StatusOK, cb.body)
				return
			}
		}
	}
	obj := s.fileObject(c, rec)
	if rels != "" {
		if !s.addRelationships(w, r, c, obj, "files", rec.sha256, rec.seed, rels) {
			return
		}
	}
	body, err := jsonenc.Append(make([]byte, 0, 16<<10), map[string]any{"data": obj})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	if rels == "" {
		s.cacheIfStatic(rec, c.base, body)
	}
	writeRaw(w, http.StatusOK, body)
}

// cacheIfStatic keeps a file's rendering if the file can never change (nobody uploaded
// or analysed it). The check and the store happen under s.mu, where newAnalysis drops
// the cache entry, so a stale body is never kept.
func (s *Server) cacheIfStatic(rec *fileRec, base string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.uploaded {
		return
	}
	for _, a := range s.analyses {
		if a.file == rec {
			return
		}
	}
	if s.cached.Add(1) > maxCached {
		s.cache.Clear()
		s.cached.Store(0)
	}
	s.cache.Store(rec.sha256, &cachedBody{base: base, body: body})
}

// canonicalURL normalises a URL as vtsoar's ioc package does, so that the id a client
// computes is the id the emulator stores.
func canonicalURL(s string) (string, error) {
	o, err := ioc.ParseURL(s)
	if err != nil {
		return "", err
	}
	if o.Value == "" {
		return "", fmt.Errorf("not a URL: %q", s)
	}
	return o.Value, nil
}

// decodeURLID turns a base64url URL id back into the URL.
func decodeURLID(id string) (string, bool) {
	trimmed := strings.TrimRight(id, "=")
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.RawStdEncoding} {
		b, err := enc.DecodeString(trimmed)
		if err != nil || !utf8.Valid(b) {
			continue
		}
		u := string(b)
		if strings.Contains(u, ".") && !strings.ContainsAny(u, "\x00\n\r\t ") {
			return u, true
		}
	}
	return "", false
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		p, err = url.Parse("http://" + u)
		if err != nil {
			return ""
		}
	}
	return strings.ToLower(strings.TrimSuffix(p.Hostname(), "."))
}

func invalidTLD(host string) bool { return host == "invalid" || strings.HasSuffix(host, ".invalid") }

// lookupURL resolves either URL id form. It returns the sha256 id, the URL text, and
// whether the object exists; raw is set when the URL comes from DataDir.
func (s *Server) lookupURL(id string) (sid, text string, analysedAt time.Time, ok bool, raw []byte) {
	if len(id) == 64 && isHex(id) {
		sid = strings.ToLower(id)
	} else if u, decoded := decodeURLID(id); decoded {
		if cu, err := canonicalURL(u); err == nil {
			u = cu
		}
		text, sid = u, urlSHA256ID(u)
	} else {
		return "", "", time.Time{}, false, nil
	}
	if b, found := s.data["url:"+sid]; found {
		return sid, text, time.Time{}, true, b
	}
	if b, found := s.data["url:"+id]; found {
		return sid, text, time.Time{}, true, b
	}
	now := s.now()
	d := digestOf(sid)
	exists := d.exists()
	s.mu.Lock()
	if ur := s.urls[sid]; ur != nil {
		text = ur.url
		for _, t := range ur.analyses {
			if !now.Before(t) {
				exists = true
				if t.After(analysedAt) {
					analysedAt = t
				}
			}
		}
	} else if text != "" {
		s.rememberURL(text, sid)
	}
	s.mu.Unlock()
	if text == "" {
		text = urlFromDigest(d)
	}
	if invalidTLD(hostOf(text)) {
		return sid, text, time.Time{}, false, nil
	}
	return sid, text, analysedAt, exists, nil
}

// rememberURL records a URL's text under its sha256 id. Caller holds s.mu.
func (s *Server) rememberURL(text, sid string) *urlRec {
	if ur := s.urls[sid]; ur != nil {
		return ur
	}
	if len(s.urls) >= maxRecords {
		for k, ur := range s.urls {
			if len(ur.analyses) == 0 {
				delete(s.urls, k)
			}
		}
	}
	ur := &urlRec{url: text, id: sid}
	s.urls[sid] = ur
	return ur
}

func (s *Server) urlObject(c *call, sid, text string, analysedAt time.Time) map[string]any {
	return objectEnvelope(c, "url", "urls", sid, urlAttributes(text, digestOf(sid), analysedAt))
}

func (s *Server) getURL(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	sid, text, at, ok, raw := s.lookupURL(id)
	if raw != nil {
		writeRaw(w, http.StatusOK, raw)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("URL %q not found", id))
		return
	}
	obj := s.urlObject(c, sid, text, at)
	if rels := r.URL.Query().Get("relationships"); rels != "" {
		if !s.addRelationships(w, r, c, obj, "urls", sid, digestOf(sid), rels) {
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": obj})
}

// canonicalDomain lower-cases a domain and checks its syntax.
func canonicalDomain(s string) (string, bool) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	if len(d) == 0 || len(d) > 253 || !strings.Contains(d, ".") {
		return "", false
	}
	for _, label := range strings.Split(d, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return "", false
			}
		}
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return "", false
	}
	return d, true
}

// domainExists applies the universe rule to a canonical domain.
func domainExists(d string) bool { return !invalidTLD(d) && digestOf(d).exists() }

func (s *Server) getDomain(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	d, ok := canonicalDomain(id)
	if ok {
		if b, found := s.data["domain:"+d]; found {
			writeRaw(w, http.StatusOK, b)
			return
		}
	}
	if !ok || !domainExists(d) {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("Domain %q not found", id))
		return
	}
	obj := objectEnvelope(c, "domain", "domains", d, domainAttributes(d, digestOf(d)))
	if rels := r.URL.Query().Get("relationships"); rels != "" {
		if !s.addRelationships(w, r, c, obj, "domains", d, digestOf(d), rels) {
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": obj})
}

// canonicalIP parses an IPv4 or IPv6 address to its canonical text.
func canonicalIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func ipExists(a netip.Addr) bool {
	if a.IsUnspecified() {
		return false
	}
	return digestOf(a.String()).exists()
}

func (s *Server) getIP(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	a, ok := canonicalIP(id)
	if ok {
		if b, found := s.data["ip_address:"+a.String()]; found {
			writeRaw(w, http.StatusOK, b)
			return
		}
	}
	if !ok || !ipExists(a) {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("IP address %q not found", id))
		return
	}
	ip := a.String()
	obj := objectEnvelope(c, "ip_address", "ip_addresses", ip, ipAttributes(a, digestOf(ip)))
	if rels := r.URL.Query().Get("relationships"); rels != "" {
		if !s.addRelationships(w, r, c, obj, "ip_addresses", ip, digestOf(ip), rels) {
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": obj})
}

func (s *Server) behaviourSummary(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	rec, raw := s.lookupFile(id)
	if raw != nil {
		// A DataDir file: answer from its hashes like any universe file.
		var env struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		json.Unmarshal(raw, &env)
		rec = &fileRec{sha256: env.Data.ID, seed: digestOf(env.Data.ID)}
	}
	if rec == nil {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("File %q not found", id))
		return
	}
	s.mu.Lock()
	cp := *rec
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": behaviourSummary(&cp)})
}
