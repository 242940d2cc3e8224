package vtsim

// The search endpoints: a query resolved to an object of the universe (also the
// widgets' query), basic search and VT Intelligence search.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// observable is a search or widget query resolved to an object of the universe.
type observable struct {
	typ, collection, id string
	found               bool
	obj                 func(c *call) map[string]any
}

// resolveQuery classifies a query (hash, IP, URL, domain) and looks it up. ok is false
// when the query is none of those.
func (s *Server) resolveQuery(q string) (o observable, ok bool) {
	q = strings.TrimSpace(q)
	if hashKind(strings.ToLower(q)) != "" {
		o = observable{typ: "file", collection: "files", id: strings.ToLower(q)}
		rec, raw := s.lookupFile(q)
		switch {
		case rec != nil:
			o.found, o.id = true, rec.sha256
			o.obj = func(c *call) map[string]any { return s.fileObject(c, rec) }
		case raw != nil:
			o.found = true
			o.obj = func(c *call) map[string]any { return rawData(raw) }
		}
		return o, true
	}
	if a, isIP := canonicalIP(q); isIP {
		o = observable{typ: "ip_address", collection: "ip_addresses", id: a.String(), found: ipExists(a)}
		o.obj = func(c *call) map[string]any {
			return objectEnvelope(c, "ip_address", "ip_addresses", o.id, ipAttributes(a, digestOf(o.id)))
		}
		return o, true
	}
	if d, isDomain := canonicalDomain(q); isDomain {
		o = observable{typ: "domain", collection: "domains", id: d, found: domainExists(d)}
		o.obj = func(c *call) map[string]any {
			return objectEnvelope(c, "domain", "domains", d, domainAttributes(d, digestOf(d)))
		}
		return o, true
	}
	if strings.Contains(q, "://") || strings.Contains(q, "/") && strings.Contains(q, ".") {
		u, err := canonicalURL(q)
		if err != nil {
			return o, false
		}
		sid, text, at, exists, raw := s.lookupURL(base64.RawURLEncoding.EncodeToString([]byte(u)))
		o = observable{typ: "url", collection: "urls", id: sid, found: exists || raw != nil}
		o.obj = func(c *call) map[string]any {
			if raw != nil {
				return rawData(raw)
			}
			return s.urlObject(c, sid, text, at)
		}
		return o, true
	}
	return o, false
}

func rawData(raw []byte) map[string]any {
	var env struct {
		Data map[string]any `json:"data"`
	}
	json.Unmarshal(raw, &env)
	return env.Data
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query().Get("query")
	if strings.TrimSpace(q) == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "The query parameter is required")
		return
	}
	limit, offset, ok := pageParams(w, r)
	if !ok {
		return
	}
	if o, isObs := s.resolveQuery(q); isObs {
		data := []any{}
		if o.found && offset == 0 {
			data = append(data, o.obj(c))
		}
		links, _ := pageLinks(c.base, "/api/v3/search", r, limit, 0, false)
		writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links})
		return
	}
	// Any other text searches comments.
	d := digestOf("search:" + q)
	n := int(d[0]) % 30
	data := []any{}
	end := min(offset+limit, n)
	for i := offset; i < end; i++ {
		cd := digestOf(fmt.Sprintf("search:%s:%d", q, i))
		_, last := cd.dates()
		text := fmt.Sprintf("search comment #%s.", strings.ReplaceAll(strings.ToLower(q), " ", "_"))
		id := "f-" + cd.hexFrom("file", 64) + "-" + cd.hexFrom("cid", 8)
		data = append(data, map[string]any{
			"type": "comment", "id": id,
			"links": map[string]any{"self": c.base + "/api/v3/comments/" + id},
			"attributes": map[string]any{"date": last, "html": text, "text": text,
				"tags":  []any{strings.ToLower(strings.Fields(q)[0])},
				"votes": map[string]any{"abuse": 0, "negative": int(cd[1] % 2), "positive": int(cd[2] % 5)}},
		})
	}
	links, meta := pageLinks(c.base, "/api/v3/search", r, limit, end, end < n)
	body := map[string]any{"data": data, "links": links}
	if len(meta) > 0 {
		body["meta"] = meta
	}
	writeJSON(w, http.StatusOK, body)
}

// intelligenceSearch answers VT Intelligence searches (premium keys only) with files.
func (s *Server) intelligenceSearch(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.premium {
		writeError(w, http.StatusForbidden, codeForbidden, "You are not authorized to perform the requested operation")
		return
	}
	q := r.URL.Query().Get("query")
	if strings.TrimSpace(q) == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "The query parameter is required")
		return
	}
	limit, offset, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.countPremium(c.keyHash, false)
	rl := relSpec{name: "intelligence:" + q, target: "file"}
	n := relCount(q, rl)
	data := []any{}
	end := min(offset+limit, n)
	for i := offset; i < end; i++ {
		it, _ := s.relatedItem("intelligence", q, rl, i)
		data = append(data, s.relatedObject(c, it))
	}
	links, meta := pageLinks(c.base, "/api/v3/intelligence/search", r, limit, end, end < n)
	meta["total_hits"] = n
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links, "meta": meta})
}
