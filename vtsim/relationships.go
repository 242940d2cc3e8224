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
)

// Relationship describes one relationship of a collection as VirusTotal documents it.
type Relationship struct {
	// Collection is "files", "urls", "domains" or "ip_addresses".
	Collection string `json:"collection"`
	// Name is VirusTotal's relationship name, e.g. "contacted_ips".
	Name string `json:"name"`
	// Description says what the related objects are.
	Description string `json:"description"`
	// Target is the type of the related objects, e.g. "ip_address".
	Target string `json:"target"`
	// Premium is true when VirusTotal reserves it to VT Enterprise (premium) keys.
	Premium bool `json:"premium"`
	// ToOne is true when the relationship holds a single object.
	ToOne bool `json:"to_one,omitempty"`
}

func rel(col, name, target, desc string, premium bool) Relationship {
	return Relationship{Collection: col, Name: name, Target: target, Description: desc, Premium: premium}
}

// relationshipTable is the emulated list, after VirusTotal's API reference for the
// file, URL, domain and IP address objects ("VT Enterprise users only" = Premium).
var relationshipTable = []Relationship{
	rel("files", "analyses", "analysis", "Analyses for the file.", true),
	rel("files", "behaviours", "file_behaviour", "Behaviour reports for the file.", false),
	rel("files", "bundled_files", "file", "Files bundled within the file.", false),
	rel("files", "carbonblack_children", "file", "Files derived from the file according to Carbon Black.", true),
	rel("files", "carbonblack_parents", "file", "Files from where the file was derived according to Carbon Black.", true),
	rel("files", "ciphered_bundled_files", "file", "Files encrypted inside the file.", true),
	rel("files", "ciphered_parents", "file", "Files containing the file encrypted.", true),
	rel("files", "clues", "clue", "Clues for the file.", true),
	rel("files", "collections", "collection", "IoC collections where the file is.", false),
	rel("files", "comments", "comment", "Comments for the file.", false),
	rel("files", "compressed_parents", "file", "Compressed files that contain the file.", false),
	rel("files", "contacted_domains", "domain", "Domains contacted by the file.", false),
	rel("files", "contacted_ips", "ip_address", "IP addresses contacted by the file.", false),
	rel("files", "contacted_urls", "url", "URLs contacted by the file.", false),
	rel("files", "dropped_files", "file", "Files dropped by the file during its execution.", false),
	rel("files", "email_attachments", "file", "Files attached to the email.", true),
	rel("files", "email_parents", "file", "Email files that contained the file.", true),
	rel("files", "embedded_domains", "domain", "Domain names embedded in the file.", true),
	rel("files", "embedded_ips", "ip_address", "IP addresses embedded in the file.", true),
	rel("files", "embedded_urls", "url", "URLs embedded in the file.", true),
	rel("files", "execution_parents", "file", "Files that executed the file.", false),
	rel("files", "graphs", "graph", "Graphs that include the file.", false),
	rel("files", "itw_domains", "domain", "In the wild domain names from where the file has been downloaded.", true),
	rel("files", "itw_ips", "ip_address", "In the wild IP addresses from where the file has been downloaded.", true),
	rel("files", "itw_urls", "url", "In the wild URLs from where the file has been downloaded.", true),
	rel("files", "memory_pattern_domains", "domain", "Domain string patterns found in memory during sandbox execution.", true),
	rel("files", "memory_pattern_ips", "ip_address", "IP address string patterns found in memory during sandbox execution.", true),
	rel("files", "memory_pattern_urls", "url", "URL string patterns found in memory during sandbox execution.", true),
	rel("files", "overlay_children", "file", "Files contained by the file as an overlay.", true),
	rel("files", "overlay_parents", "file", "File that contain the file as an overlay.", true),
	rel("files", "pcap_children", "file", "Files contained within the PCAP file.", true),
	rel("files", "pcap_parents", "file", "PCAP files that contain the file.", true),
	rel("files", "pe_resource_children", "file", "Files contained by a PE file as a resource.", false),
	rel("files", "pe_resource_parents", "file", "PE files containing the file as a resource.", false),
	rel("files", "related_references", "reference", "References related to the file.", false),
	rel("files", "related_threat_actors", "collection", "Threat actors related to the file.", false),
	rel("files", "screenshots", "screenshot", "Screenshots related to the sandbox execution of the file.", true),
	rel("files", "sigma_analysis", "sigma_analysis", "Sigma analysis for the file.", false),
	rel("files", "similar_files", "file", "Files that are similar to the file.", true),
	rel("files", "submissions", "submission", "Submissions for the file.", true),
	rel("files", "urls_for_embedded_js", "url", "URLs where this (JS) file is embedded.", true),
	rel("files", "user_votes", "vote", "File's votes made by current signed-in user.", false),
	rel("files", "votes", "vote", "Votes for the file.", false),

	rel("urls", "analyses", "analysis", "Analyses for the URL.", true),
	rel("urls", "collections", "collection", "IoC collections where the URL is.", false),
	rel("urls", "comments", "comment", "Community posted comments about the URL.", false),
	rel("urls", "communicating_files", "file", "Files that communicate with a given URL when they're executed.", false),
	rel("urls", "contacted_domains", "domain", "Domains from which the URL loads some kind of resource.", false),
	rel("urls", "contacted_ips", "ip_address", "IPs from which the URL loads some kind of resource.", false),
	rel("urls", "downloaded_files", "file", "Files downloaded from the URL.", true),
	rel("urls", "embedded_js_files", "file", "JS files embedded in a URL.", false),
	rel("urls", "graphs", "graph", "Graphs including the URL.", false),
	{Collection: "urls", Name: "last_serving_ip_address", Target: "ip_address", Description: "Last IP address that served the URL.", ToOne: true},
	{Collection: "urls", Name: "network_location", Target: "domain", Description: "Domain or IP for the URL.", ToOne: true},
	rel("urls", "redirecting_urls", "url", "URLs that redirected to the given URL.", true),
	rel("urls", "redirects_to", "url", "URLs that this url redirects to.", true),
	rel("urls", "referrer_files", "file", "Files containing the URL.", false),
	rel("urls", "referrer_urls", "url", "URLs referring the URL.", false),
	rel("urls", "related_comments", "comment", "Community posted comments in the URL's related objects.", false),
	rel("urls", "related_references", "reference", "References related to the URL.", false),
	rel("urls", "related_threat_actors", "collection", "URL's related threat actors.", false),
	rel("urls", "submissions", "submission", "URL's submissions.", true),
	rel("urls", "urls_related_by_tracker_id", "url", "URLs that share tracker ID with the URL.", true),
	rel("urls", "user_votes", "vote", "URL's votes made by current signed-in user.", false),
	rel("urls", "votes", "vote", "Votes for the URL.", false),

	rel("domains", "caa_records", "domain", "Records CAA for the domain.", false),
	rel("domains", "cname_records", "domain", "Records CNAME for the domain.", false),
	rel("domains", "collections", "collection", "IoC collections where the domain is.", false),
	rel("domains", "comments", "comment", "Community posted comments about the domain.", false),
	rel("domains", "communicating_files", "file", "Files that communicate with the domain.", false),
	rel("domains", "downloaded_files", "file", "Files downloaded from that domain.", true),
	rel("domains", "graphs", "graph", "All graphs that include the domain.", false),
	rel("domains", "historical_ssl_certificates", "ssl_cert", "SSL certificates associated with the domain.", false),
	rel("domains", "historical_whois", "whois", "WHOIS information for the domain.", false),
	{Collection: "domains", Name: "immediate_parent", Target: "domain", Description: "Domain's immediate parent.", ToOne: true},
	rel("domains", "mx_records", "domain", "Records MX for the domain.", false),
	rel("domains", "ns_records", "domain", "Records NS for the domain.", false),
	{Collection: "domains", Name: "parent", Target: "domain", Description: "Domain's top parent.", ToOne: true},
	rel("domains", "referrer_files", "file", "Files containing the domain.", false),
	rel("domains", "related_comments", "comment", "Community posted comments in the domain's related objects.", false),
	rel("domains", "related_references", "reference", "References related to the domain.", false),
	rel("domains", "related_threat_actors", "collection", "Threat actors related to the domain.", false),
	rel("domains", "resolutions", "resolution", "DNS resolutions for the domain.", false),
	rel("domains", "soa_records", "domain", "Records SOA for the domain.", false),
	rel("domains", "siblings", "domain", "Domain's sibling domains.", false),
	rel("domains", "subdomains", "domain", "Domain's subdomains.", false),
	rel("domains", "urls", "url", "URLs having this domain.", true),
	rel("domains", "user_votes", "vote", "Current user's votes.", false),
	rel("domains", "votes", "vote", "Domain's votes.", false),

	rel("ip_addresses", "collections", "collection", "IoC collections where the IP is.", false),
	rel("ip_addresses", "comments", "comment", "Comments for the IP address.", false),
	rel("ip_addresses", "communicating_files", "file", "Files that communicate with the IP address.", false),
	rel("ip_addresses", "downloaded_files", "file", "Files downloaded from the IP address.", true),
	rel("ip_addresses", "graphs", "graph", "Graphs including the IP address.", false),
	rel("ip_addresses", "historical_ssl_certificates", "ssl_cert", "SSL certificates associated with the IP.", false),
	rel("ip_addresses", "historical_whois", "whois", "WHOIS information for the IP address.", false),
	rel("ip_addresses", "related_comments", "comment", "Community posted comments in the IP's related objects.", false),
	rel("ip_addresses", "related_references", "reference", "References related to the IP address.", false),
	rel("ip_addresses", "related_threat_actors", "collection", "Threat actors related to the IP address.", false),
	rel("ip_addresses", "referrer_files", "file", "Files containing the IP address.", false),
	rel("ip_addresses", "resolutions", "resolution", "IP address' resolutions.", false),
	rel("ip_addresses", "urls", "url", "URLs related to the IP address.", true),
	rel("ip_addresses", "user_votes", "vote", "IP's votes made by current signed-in user.", false),
	rel("ip_addresses", "votes", "vote", "IP's votes.", false),
}

// Relationships returns the relationships the emulator serves, per collection, with
// those VirusTotal reserves to premium keys marked.
func Relationships() []Relationship {
	return append([]Relationship(nil), relationshipTable...)
}

func findRelationship(collection, name string) (Relationship, bool) {
	for _, r := range relationshipTable {
		if r.Collection == collection && r.Name == name {
			return r, true
		}
	}
	return Relationship{}, false
}

// collectionOf maps an object type to its collection name.
var collectionOf = map[string]string{
	"file": "files", "url": "urls", "domain": "domains", "ip_address": "ip_addresses",
	"analysis": "analyses", "comment": "comments", "resolution": "resolutions",
	"file_behaviour": "file_behaviours", "collection": "collections", "graph": "graphs",
	"reference": "references", "vote": "votes", "submission": "submissions",
	"ssl_cert": "ssl_certificates", "whois": "whois", "sigma_analysis": "sigma_analyses",
	"screenshot": "screenshots", "clue": "clues",
}

// relCount is how many objects a relationship holds for an object: up to 44 for
// relationships to files, URLs, domains and IPs (so that paging shows), up to 5 for the
// others. It is drawn from SHA-256(canonical id + "/" + relationship).
func relCount(objID string, r Relationship) int {
	if r.ToOne {
		return 1
	}
	d := digestOf(objID + "/" + r.Name)
	switch r.Target {
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
	text    string // URL text for urls
}

// relatedItem draws the i-th object of a relationship; candidates the universe says do
// not exist are skipped, so every listed object can be fetched.
func (s *Server) relatedItem(collection, objID string, r Relationship, i int) relItem {
	for k := 0; ; k++ {
		d := digestOf(fmt.Sprintf("%s/%s/%s/%d/%d", collection, objID, r.Name, i, k))
		switch r.Target {
		case "file":
			id := d.hexFrom("sha256", 64)
			if digestOf(id).exists() {
				return relItem{typ: "file", id: id, d: digestOf(id)}
			}
		case "domain":
			dom := domainFromDigest(d)
			switch r.Name {
			case "subdomains":
				dom = domainWords[int(d[3])%len(domainWords)] + strconv.Itoa(i) + "." + objID
			case "parent", "immediate_parent":
				parts := strings.Split(objID, ".")
				if len(parts) > 2 {
					dom = strings.Join(parts[1:], ".")
				}
			}
			if domainExists(dom) || r.ToOne {
				return relItem{typ: "domain", id: dom, d: digestOf(dom)}
			}
		case "ip_address":
			ip := ipFromDigest(d).String()
			if digestOf(ip).exists() {
				return relItem{typ: "ip_address", id: ip, d: digestOf(ip)}
			}
		case "url":
			u := urlFromDigest(d)
			sid := urlSHA256ID(u)
			if digestOf(sid).exists() {
				// Remember the text so that GET /urls/{sha256 id} shows this URL.
				s.mu.Lock()
				s.rememberURL(u, sid)
				s.mu.Unlock()
				return relItem{typ: "url", id: sid, d: digestOf(sid), text: u}
			}
		case "resolution":
			var ip, host string
			if collection == "ip_addresses" {
				ip, host = objID, domainFromDigest(d)
			} else {
				ip, host = ipFromDigest(d).String(), objID
			}
			return relItem{typ: "resolution", id: ip + host, d: d, text: ip + "|" + host}
		case "comment":
			prefix := map[string]string{"files": "f", "urls": "u", "domains": "d", "ip_addresses": "i"}[collection]
			return relItem{typ: "comment", id: prefix + "-" + digestOf(objID).hexFrom("c", 64) + "-" + d.hexFrom("cid", 8), d: d}
		case "file_behaviour":
			sandboxes := []string{"VirusTotal Jujubox", "VirusTotal Observer", "Zenbox", "C2AE", "Microsoft Sysinternals", "CAPE Sandbox"}
			return relItem{typ: "file_behaviour", id: objID + "_" + sandboxes[i%len(sandboxes)], d: d, text: sandboxes[i%len(sandboxes)]}
		default:
			return relItem{typ: r.Target, id: d.hexFrom("id", 32), d: d}
		}
	}
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
		verdict := "harmless"
		if it.d[1]%2 == 0 {
			verdict = "malicious"
		}
		attrs = map[string]any{"date": last, "verdict": verdict, "value": 1}
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
func checkRelationship(w http.ResponseWriter, c *call, collection, name string) (Relationship, bool) {
	rl, found := findRelationship(collection, name)
	if !found {
		writeError(w, http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf("Invalid relationship: %s", name))
		return rl, false
	}
	if rl.Premium && !c.premium {
		writeError(w, http.StatusForbidden, codeForbidden, "You are not authorized to perform the requested operation")
		return rl, false
	}
	return rl, true
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
		if rl.ToOne {
			body := map[string]any{"data": render(s.relatedItem(collection, oid, rl, 0)),
				"links": map[string]any{"self": c.base + path}}
			writeJSON(w, http.StatusOK, body)
			return
		}
		n := relCount(oid, rl)
		data := []any{}
		end := min(offset+limit, n)
		for i := offset; i < end; i++ {
			data = append(data, render(s.relatedItem(collection, oid, rl, i)))
		}
		links, meta := pageLinks(c.base, path, r, limit, end, end < n)
		meta["count"] = n
		if descriptors {
			links["related"] = c.base + objPath + "/" + name
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links, "meta": meta})
	}
}

// addRelationships fills obj["relationships"] for GET /{collection}/{id}?relationships=a,b
// with the first 10 descriptors of each; it answers the error and returns false for an
// unknown or forbidden relationship.
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
		if rl.ToOne {
			it := s.relatedItem(collection, oid, rl, 0)
			out[name] = map[string]any{"data": map[string]any{"type": it.typ, "id": it.id}, "links": links}
			continue
		}
		n := relCount(oid, rl)
		data := []any{}
		for i := 0; i < min(n, 10); i++ {
			it := s.relatedItem(collection, oid, rl, i)
			data = append(data, map[string]any{"type": it.typ, "id": it.id})
		}
		meta := map[string]any{"count": n}
		if n > 10 {
			cur := encodeCursor(10)
			meta["cursor"] = cur
			links["next"] = objPath + "/relationships/" + name + "?" + url.Values{"cursor": {cur}, "limit": {"10"}}.Encode()
		}
		out[name] = map[string]any{"data": data, "links": links, "meta": meta}
	}
	obj["relationships"] = out
	return true
}
