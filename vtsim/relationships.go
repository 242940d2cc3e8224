package vtsim

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/vtsoar/vtsoar/vt"
)

// The relationships the emulator serves are vt's table (vt.Relationships), the one
// record of VirusTotal's documented relationships: the handlers below and /metadata
// are generated from it.

// findRelationship finds a relationship of a collection by VirusTotal's exact name.
func findRelationship(collection, name string) (vt.Relationship, bool) {
	r, ok := vt.LookupRelationship(vt.Collection(collection), name)
	if !ok || r.Name != name {
		return vt.Relationship{}, false
	}
	return r, true
}

// target is the type of the objects a relationship returns (the first of Returns).
func target(r vt.Relationship) string {
	if len(r.Returns) == 0 {
		return ""
	}
	return r.Returns[0]
}

// collectionOf maps an object type to its collection name.
var collectionOf = map[string]string{
	"file": "files", "url": "urls", "domain": "domains", "ip_address": "ip_addresses",
	"analysis": "analyses", "comment": "comments", "resolution": "resolutions",
	"file_behaviour": "file_behaviours", "collection": "collections", "graph": "graphs",
	"reference": "references", "vote": "votes", "submission": "submissions",
	"ssl_cert": "ssl_certificates", "whois": "whois", "sigma_analysis": "sigma_analyses",
	"screenshot": "screenshots", "clue": "clues", "attack_technique": "attack_techniques",
}

// relSpec is what the generated side of a relationship depends on: its name, the
// type of its objects and its cardinality (intelligence searches use it too).
type relSpec struct {
	name, target string
	toOne        bool
}

func specOf(r vt.Relationship) relSpec {
	return relSpec{name: r.Name, target: target(r), toOne: r.ToOne}
}

// relCount is how many generated objects a relationship holds for an object: up to
// 44 for relationships to files, URLs, domains and IPs (so that paging shows), up to
// 5 for the others. It is drawn from SHA-256(canonical id + "/" + relationship).
func relCount(objID string, r relSpec) int {
	if r.toOne {
		return 1
	}
	d := digestOf(objID + "/" + r.name)
	switch r.target {
	case "file", "url", "domain", "ip_address", "resolution", "comment":
		return int(d[0]) % 45
	case "file_behaviour", "analysis":
		return 1 + int(d[0])%4
	default:
		return int(d[0]) % 6
	}
}

// relItem is one related object: its type, id, and how to render it.
type relItem struct {
	typ, id string
	d       digest
	text    string // URL text for urls; sandbox, resolution or collection details
	comment *commentRec
	vote    *voteRec
}

// relatedItem draws the i-th generated object of a relationship; candidates the
// universe says do not exist are skipped, so every listed object can be fetched. ok
// is false for a one-to-one relationship without an object (a top-level domain's
// parent).
func (s *Server) relatedItem(collection, objID string, r relSpec, i int) (it relItem, ok bool) {
	switch {
	case collection == "urls" && r.name == "network_location":
		return s.networkLocation(objID)
	case collection == "urls" && r.name == "last_serving_ip_address":
		if a, isIP := canonicalIP(hostOf(s.urlText(objID))); isIP {
			return relItem{typ: "ip_address", id: a.String(), d: digestOf(a.String())}, ipExists(a)
		}
	case collection == "domains" && (r.name == "parent" || r.name == "immediate_parent"):
		p := parentDomain(objID, r.name == "immediate_parent")
		return relItem{typ: "domain", id: p, d: digestOf(p)}, p != "" && domainExists(p)
	case r.name == "sigma_analysis":
		return relItem{typ: "sigma_analysis", id: objID, d: digestOf("sigma:" + objID)}, true
	}
	for k := 0; ; k++ {
		d := digestOf(fmt.Sprintf("%s/%s/%s/%d/%d", collection, objID, r.name, i, k))
		switch r.target {
		case "file":
			id := d.hexFrom("sha256", 64)
			if digestOf(id).exists() {
				return relItem{typ: "file", id: id, d: digestOf(id)}, true
			}
		case "domain":
			dom := domainFromDigest(d)
			if r.name == "subdomains" {
				dom = domainWords[int(d[3])%len(domainWords)] + strconv.Itoa(i) + "." + objID
			}
			if domainExists(dom) {
				return relItem{typ: "domain", id: dom, d: digestOf(dom)}, true
			}
		case "ip_address":
			ip := ipFromDigest(d).String()
			if digestOf(ip).exists() {
				return relItem{typ: "ip_address", id: ip, d: digestOf(ip)}, true
			}
		case "url":
			u := urlFromDigest(d)
			sid := urlSHA256ID(u)
			if digestOf(sid).exists() {
				// Remember the text so that GET /urls/{sha256 id} shows this URL.
				s.mu.Lock()
				s.rememberURL(u, sid)
				s.mu.Unlock()
				return relItem{typ: "url", id: sid, d: digestOf(sid), text: u}, true
			}
		case "resolution":
			var ip, host string
			if collection == "ip_addresses" {
				ip, host = objID, domainFromDigest(d)
			} else {
				ip, host = ipFromDigest(d).String(), objID
			}
			return relItem{typ: "resolution", id: ip + host, d: d, text: ip + "|" + host}, true
		case "comment":
			return relItem{typ: "comment", id: commentID(collection, objID, d.hexFrom("cid", 8)), d: d}, true
		case "file_behaviour":
			sandboxes := []string{"VirusTotal Jujubox", "VirusTotal Observer", "Zenbox", "C2AE", "Microsoft Sysinternals", "CAPE Sandbox"}
			return relItem{typ: "file_behaviour", id: objID + "_" + sandboxes[i%len(sandboxes)], d: d, text: sandboxes[i%len(sandboxes)]}, true
		case "vote":
			return relItem{typ: "vote", id: commentID(collection, objID, d.hexFrom("vid", 8)), d: d}, true
		case "collection":
			return relItem{typ: "collection", id: d.hexFrom("id", 32), d: d, text: collectionType(r.name)}, true
		default:
			return relItem{typ: r.target, id: d.hexFrom("id", 32), d: d}, true
		}
	}
}

// commentID is VirusTotal's id of a comment or vote: the item's kind letter (f, u, d,
// i), the item's id and a random part.
func commentID(collection, objID, random string) string {
	prefix := map[string]string{"files": "f", "urls": "u", "domains": "d", "ip_addresses": "i"}[collection]
	return prefix + "-" + objID + "-" + random
}

// collectionType is the collection_type of the collections a relationship lists.
func collectionType(rel string) string {
	switch rel {
	case "campaigns":
		return "campaign"
	case "malware_families":
		return "malware-family"
	case "reports", "related_reports":
		return "report"
	case "software_toolkits":
		return "software-toolkit"
	case "vulnerabilities":
		return "vulnerability"
	case "related_threat_actors":
		return "threat-actor"
	}
	return "collection"
}

// urlText is the text of the URL with that sha256 id (generated if never seen).
func (s *Server) urlText(sid string) string {
	_, text, _, _, _ := s.lookupURL(sid)
	return text
}

// networkLocation is a URL's own host: an IP address object when the URL names one,
// else its domain. There is none when the host does not exist in the universe.
func (s *Server) networkLocation(sid string) (relItem, bool) {
	host := hostOf(s.urlText(sid))
	if a, isIP := canonicalIP(strings.Trim(host, "[]")); isIP {
		return relItem{typ: "ip_address", id: a.String(), d: digestOf(a.String())}, ipExists(a)
	}
	d, valid := canonicalDomain(host)
	return relItem{typ: "domain", id: d, d: digestOf(d)}, valid && domainExists(d)
}

// parentDomain follows a domain's name: its top parent is its registered domain
// (public suffix plus one label: "www.example.co.uk" -> "example.co.uk"), its
// immediate parent the name without its first label. A registered domain has
// neither, nor does a name whose immediate parent would be a public suffix.
func parentDomain(domain string, immediate bool) string {
	reg, err := publicsuffix.EffectiveTLDPlusOne(domain)
	if err != nil || reg == domain {
		return ""
	}
	if !immediate {
		return reg
	}
	_, rest, _ := strings.Cut(domain, ".")
	return rest
}

// relatedObject renders a related object in full.
func (s *Server) relatedObject(c *call, it relItem) map[string]any {
	switch it.typ {
	case "file":
		rec, _ := s.lookupFile(it.id)
		if rec != nil {
			return s.fileObject(c, rec)
		}
	case "url":
		return s.urlObject(c, it.id, it.text, time.Time{})
	case "domain":
		return objectEnvelope(c, "domain", "domains", it.id, domainAttributes(it.id, it.d))
	case "ip_address":
		a, _ := canonicalIP(it.id)
		return objectEnvelope(c, "ip_address", "ip_addresses", it.id, ipAttributes(a, it.d))
	case "comment":
		if it.comment != nil {
			return it.comment.object(c)
		}
	case "vote":
		if it.vote != nil {
			return it.vote.object(c)
		}
	}
	_, last := it.d.dates()
	var attrs map[string]any
	switch it.typ {
	case "comment":
		tag := threatFamilies[int(it.d[1])%len(threatFamilies)]
		text := fmt.Sprintf("Looks like #%s to me. Seen in a phishing campaign.", strings.ToLower(tag))
		attrs = map[string]any{"date": last, "text": text, "html": text, "tags": []any{strings.ToLower(tag)},
			"votes": map[string]any{"abuse": 0, "negative": int(it.d[2] % 3), "positive": int(it.d[3] % 9)}}
	case "resolution":
		ip, host, _ := strings.Cut(it.text, "|")
		hd, id := digestOf(host), digestOf(ip)
		attrs = map[string]any{"date": last, "host_name": host, "ip_address": ip, "resolver": "VirusTotal",
			"host_name_last_analysis_stats":  statsOf(networkScans(hd, hd.verdict(len(networkEngines))), networkStatKeys),
			"ip_address_last_analysis_stats": statsOf(networkScans(id, id.verdict(len(networkEngines))), networkStatKeys)}
	case "file_behaviour":
		attrs = map[string]any{"sandbox_name": it.text, "analysis_date": last, "behash": it.d.hexFrom("behash", 32),
			"has_html_report": it.d[1]%2 == 0, "has_pcap": it.d[2]%2 == 0, "has_evtx": false, "has_memdump": false,
			"last_modification_date": last, "tags": []any{"DIRECT_CPU_CLOCK_ACCESS"}}
	case "analysis":
		attrs = map[string]any{"date": last, "status": "completed", "stats": map[string]any{}, "results": map[string]any{}}
	case "vote":
		verdict, value := "harmless", 1
		if it.d[1]%2 == 0 {
			verdict, value = "malicious", -1
		}
		attrs = map[string]any{"date": last, "verdict": verdict, "value": value}
	case "sigma_analysis":
		stats := map[string]any{"critical": 0, "high": int(it.d[1] % 2), "medium": int(it.d[2] % 3), "low": int(it.d[3] % 4)}
		attrs = map[string]any{"last_modified": last, "stats": stats, "rule_matches": []any{}}
	case "collection":
		attrs = map[string]any{"name": it.text + " " + it.id[:8], "collection_type": it.text,
			"creation_date": last, "last_modification_date": last}
	default:
		attrs = map[string]any{"name": it.typ + " " + it.id[:8], "creation_date": last, "last_modification_date": last}
	}
	col := collectionOf[it.typ]
	if col == "" {
		col = it.typ + "s"
	}
	return objectEnvelope(c, it.typ, col, it.id, attrs)
}

func encodeCursor(offset int) string {
	b := binary.AppendUvarint([]byte("vtsim"), uint64(offset))
	return base64.StdEncoding.EncodeToString(b)
}

func decodeCursor(cur string) (int, bool) {
	if cur == "" {
		return 0, true
	}
	b, err := base64.StdEncoding.DecodeString(cur)
	if err != nil || !strings.HasPrefix(string(b), "vtsim") {
		return 0, false
	}
	n, k := binary.Uvarint(b[5:])
	if k <= 0 || n > 1<<20 {
		return 0, false
	}
	return int(n), true
}

// pageParams reads limit (default 10, 1..40) and cursor, or answers the error.
func pageParams(w http.ResponseWriter, r *http.Request) (limit, offset int, ok bool) {
	limit = 10
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("Invalid limit: %q", l))
			return 0, 0, false
		}
		if n > 40 {
			writeError(w, http.StatusBadRequest, codeBadRequest, "Limit must be less or equal than 40")
			return 0, 0, false
		}
		limit = n
	}
	offset, ok = decodeCursor(r.URL.Query().Get("cursor"))
	if !ok {
		writeError(w, http.StatusBadRequest, codeInvalidArgument, "Wrong cursor")
		return 0, 0, false
	}
	return limit, offset, true
}

// pageLinks builds self and next links for a page; self keeps the request's query.
func pageLinks(base, path string, r *http.Request, limit, next int, more bool) (links, meta map[string]any) {
	self := base + path
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	links = map[string]any{"self": self}
	meta = map[string]any{}
	if more {
		q := url.Values{}
		for k, v := range r.URL.Query() {
			if k != "cursor" && k != "limit" && k != "x-apikey" {
				q[k] = v
			}
		}
		cur := encodeCursor(next)
		q.Set("cursor", cur)
		q.Set("limit", strconv.Itoa(limit))
		links["next"] = base + path + "?" + q.Encode()
		meta["cursor"] = cur
	}
	return links, meta
}

// resolveObject finds the object a relationship request names; it answers 404 itself.
func (s *Server) resolveObject(w http.ResponseWriter, collection, id string) (canonical string, ok bool) {
	switch collection {
	case "files":
		rec, raw := s.lookupFile(id)
		if rec != nil {
			return rec.sha256, true
		}
		if raw != nil {
			return strings.ToLower(id), true
		}
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("File %q not found", id))
	case "urls":
		sid, _, _, exists, raw := s.lookupURL(id)
		if exists || raw != nil {
			return sid, true
		}
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("URL %q not found", id))
	case "domains":
		d, valid := canonicalDomain(id)
		if valid && (domainExists(d) || s.data["domain:"+d] != nil) {
			return d, true
		}
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("Domain %q not found", id))
	case "ip_addresses":
		a, valid := canonicalIP(id)
		if valid && (ipExists(a) || s.data["ip_address:"+a.String()] != nil) {
			return a.String(), true
		}
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("IP address %q not found", id))
	}
	return "", false
}

// checkRelationship answers 400 for an unknown relationship and 403 for a premium one
// asked with a public key.
func checkRelationship(w http.ResponseWriter, c *call, collection, name string) (vt.Relationship, bool) {
	rl, found := findRelationship(collection, name)
	if !found {
		writeError(w, http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf("Invalid relationship: %s", name))
		return rl, false
	}
	if rl.Premium() && !c.premium {
		writeError(w, http.StatusForbidden, codeForbidden, "You are not authorized to perform the requested operation")
		return rl, false
	}
	return rl, true
}

// relList is what a relationship holds for one object and one caller: n items, the
// i-th drawn by at.
type relList struct {
	n  int
	at func(i int) (relItem, bool)
}

// relItems lists a relationship of an object for the caller: the comments and votes
// posted to the emulator (newest first) before the generated ones, and for user_votes
// only the caller's own votes.
func (s *Server) relItems(c *call, collection, oid string, rl vt.Relationship) relList {
	spec := specOf(rl)
	gen := func(i int) (relItem, bool) { return s.relatedItem(collection, oid, spec, i) }
	if rl.ToOne {
		it, ok := gen(0)
		if !ok {
			return relList{}
		}
		return relList{n: 1, at: func(int) (relItem, bool) { return it, true }}
	}
	var posted []relItem
	switch rl.Name {
	case "comments":
		for _, cm := range s.commentsOf(collection, oid) {
			posted = append(posted, relItem{typ: "comment", id: cm.id, comment: cm})
		}
	case "votes", "user_votes":
		for _, v := range s.votesOf(collection, oid) {
			if rl.Name == "votes" || v.user == c.keyHash {
				posted = append(posted, relItem{typ: "vote", id: v.id, vote: v})
			}
		}
	}
	generated := relCount(oid, spec)
	if rl.Access == vt.AccessOwnData {
		generated = 0 // nobody else's votes are the caller's
	}
	return relList{n: len(posted) + generated, at: func(i int) (relItem, bool) {
		if i < len(posted) {
			return posted[i], true
		}
		return gen(i - len(posted))
	}}
}

// related serves GET /{collection}/{id}/{relationship} (full objects) and
// GET /{collection}/{id}/relationships/{relationship} (descriptors).
func (s *Server) related(collection string, descriptors bool) api {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		id, name := r.PathValue("id"), r.PathValue("relationship")
		rl, ok := checkRelationship(w, c, collection, name)
		if !ok {
			return
		}
		oid, ok := s.resolveObject(w, collection, id)
		if !ok {
			return
		}
		limit, offset, ok := pageParams(w, r)
		if !ok {
			return
		}
		objPath := "/api/v3/" + collection + "/" + url.PathEscape(oid)
		path := objPath + "/" + name
		if descriptors {
			path = objPath + "/relationships/" + name
		}
		render := func(it relItem) map[string]any {
			if descriptors {
				return map[string]any{"type": it.typ, "id": it.id}
			}
			return s.relatedObject(c, it)
		}
		list := s.relItems(c, collection, oid, rl)
		if rl.ToOne {
			// {"data": <object or null>, "links": {"self"}, "meta": {"count": 0 or 1}}.
			var data any
			if list.n > 0 {
				it, _ := list.at(0)
				data = render(it)
			}
			writeJSON(w, http.StatusOK, map[string]any{"data": data,
				"links": map[string]any{"self": c.base + path}, "meta": map[string]any{"count": list.n}})
			return
		}
		data := []any{}
		end := min(offset+limit, list.n)
		for i := offset; i < end; i++ {
			if it, ok := list.at(i); ok {
				data = append(data, render(it))
			}
		}
		links, meta := pageLinks(c.base, path, r, limit, end, end < list.n)
		meta["count"] = list.n
		if descriptors {
			links["related"] = c.base + objPath + "/" + name
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links, "meta": meta})
	}
}

// addRelationships fills obj["relationships"] for GET /{collection}/{id}?relationships=a,b
// with the first 10 descriptors of each (a descriptor or null for a one-to-one
// relationship); it answers the error and returns false for an unknown or forbidden
// relationship.
func (s *Server) addRelationships(w http.ResponseWriter, r *http.Request, c *call, obj map[string]any, collection, oid string, _ digest, names string) bool {
	out := map[string]any{}
	objPath := c.base + "/api/v3/" + collection + "/" + url.PathEscape(oid)
	for _, name := range strings.Split(names, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		rl, ok := checkRelationship(w, c, collection, name)
		if !ok {
			return false
		}
		links := map[string]any{"self": objPath + "/relationships/" + name, "related": objPath + "/" + name}
		list := s.relItems(c, collection, oid, rl)
		if rl.ToOne {
			var data any
			if list.n > 0 {
				it, _ := list.at(0)
				data = map[string]any{"type": it.typ, "id": it.id}
			}
			out[name] = map[string]any{"data": data, "links": links}
			continue
		}
		data := []any{}
		for i := 0; i < min(list.n, 10); i++ {
			if it, ok := list.at(i); ok {
				data = append(data, map[string]any{"type": it.typ, "id": it.id})
			}
		}
		meta := map[string]any{"count": list.n}
		if list.n > 10 {
			cur := encodeCursor(10)
			meta["cursor"] = cur
			links["next"] = objPath + "/relationships/" + name + "?" + url.Values{"cursor": {cur}, "limit": {"10"}}.Encode()
		}
		out[name] = map[string]any{"data": data, "links": links, "meta": meta}
	}
	obj["relationships"] = out
	return true
}
