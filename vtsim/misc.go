package vtsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/vt"
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

// detectionRatio counts malicious engines over engines that gave a verdict.
func detectionRatio(obj map[string]any) (detections, total int) {
	attrs, _ := obj["attributes"].(map[string]any)
	st, _ := attrs["last_analysis_stats"].(map[string]any)
	num := func(k string) int {
		switch v := st[k].(type) {
		case int:
			return v
		case float64:
			return int(v)
		}
		return 0
	}
	return num("malicious"), num("malicious") + num("suspicious") + num("undetected") + num("harmless")
}

var colorRE = regexp.MustCompile(`^[0-9a-fA-F]{3,8}$`)

// widgetTheme reads the widget colours (fg1, fg2, bg1, bg2, bd1) from the query.
func widgetTheme(q url.Values) map[string]string {
	theme := map[string]string{"bg1": "#313d5a", "bg2": "#222c42", "bd1": "#4d6385", "fg1": "#ffffff", "fg2": "#b5bfd3"}
	for k := range theme {
		if v := strings.TrimPrefix(q.Get(k), "#"); colorRE.MatchString(v) {
			theme[k] = "#" + v
		}
	}
	return theme
}

// widgetTTL is how long a widget URL stays valid.
const widgetTTL = 72 * time.Hour

func (s *Server) widgetToken(o observable, theme map[string]string, now time.Time) string {
	th, _ := json.Marshal(theme)
	payload := strings.Join([]string{o.id, o.typ, string(th), strconv.FormatInt(now.Unix(), 10)}, "||")
	mac := hmac.New(sha256.New, s.widgetKey)
	mac.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload + "||" + hex.EncodeToString(mac.Sum(nil))))
}

// parseWidgetToken checks a widget token: ok is false when it was not made by this
// emulator, expired when it was but is older than widgetTTL.
func (s *Server) parseWidgetToken(tok string) (id, typ string, theme map[string]string, ok, expired bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", "", nil, false, false
	}
	parts := strings.Split(string(b), "||")
	if len(parts) != 5 {
		return "", "", nil, false, false
	}
	mac := hmac.New(sha256.New, s.widgetKey)
	mac.Write([]byte(strings.Join(parts[:4], "||")))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(parts[4])) {
		return "", "", nil, false, false
	}
	ts, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || json.Unmarshal([]byte(parts[2]), &theme) != nil {
		return "", "", nil, false, false
	}
	if s.now().Sub(time.Unix(ts, 0)) > widgetTTL {
		return "", "", nil, true, true
	}
	return parts[0], parts[1], theme, true, false
}

func (s *Server) widgetURL(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query().Get("query")
	o, ok := s.resolveQuery(q)
	if !ok {
		writeError(w, http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf("Invalid query: %q is not a file hash, URL, domain or IP address", q))
		return
	}
	det, total := 0, 0
	if o.found {
		det, total = detectionRatio(o.obj(c))
	}
	tok := s.widgetToken(o, widgetTheme(r.URL.Query()), s.now())
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"id": o.id, "type": o.typ, "found": o.found,
		"url":             c.base + "/ui/widget/html/" + tok,
		"detection_ratio": map[string]any{"detections": det, "total": total},
	}})
}

var widgetPage = template.Must(template.New("widget").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>VirusTotal widget: {{.ID}}</title>
<style>
body { margin: 0; font-family: Arial, Helvetica, sans-serif; background: {{.Theme.bg2}}; color: {{.Theme.fg1}}; }
.card { margin: 8px; padding: 12px 16px; border: 1px solid {{.Theme.bd1}}; border-radius: 6px; background: {{.Theme.bg1}}; }
.ratio { font-size: 28px; font-weight: bold; }
.ratio.bad { color: #ff5a50; }
.meta { color: {{.Theme.fg2}}; font-size: 12px; word-break: break-all; }
</style>
</head>
<body>
<div class="card">
{{if .Found}}<div class="ratio{{if gt .Detections 0}} bad{{end}}">{{.Detections}} / {{.Total}}</div>
<div>{{if gt .Detections 0}}{{.Detections}} security vendors flagged this {{.Kind}} as malicious{{else}}No security vendors flagged this {{.Kind}} as malicious{{end}}</div>
{{else}}<div class="ratio">?</div><div>This {{.Kind}} has not been analysed yet</div>{{end}}
<div class="meta">{{.Type}} · {{.ID}}</div>
<div class="meta">Served by vtsim, the vtsoar VirusTotal emulator</div>
</div>
</body>
</html>
`))

// widgetHTML serves the page a widget URL points to; like VirusTotal's, it needs no API
// key (it is meant for iframes) and expires.
//
// A widget URL older than three days is a bad request, as VirusTotal documents it
// ("Once the URL has expired, it should be refreshed ... otherwise a bad request
// error will be returned", https://docs.virustotal.com/reference/widgeturl): 400
// BadRequestError. A token the emulator never made is 404.
func (s *Server) widgetHTML(w http.ResponseWriter, r *http.Request) {
	id, typ, theme, ok, expired := s.parseWidgetToken(r.PathValue("token"))
	if expired {
		writeError(w, http.StatusBadRequest, codeBadRequest, "The widget URL has expired: ask /widget/url for a new one")
		return
	}
	if !ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<!DOCTYPE html><html><head><title>Not found</title></head><body>This widget link is invalid or expired.</body></html>\n")
		return
	}
	o, _ := s.resolveQuery(id)
	if typ == "url" {
		sid, text, at, exists, raw := s.lookupURL(id)
		o = observable{typ: "url", id: sid, found: exists || raw != nil, obj: func(c *call) map[string]any {
			if raw != nil {
				return rawData(raw)
			}
			return s.urlObject(c, sid, text, at)
		}}
	}
	det, total := 0, 0
	if o.found {
		det, total = detectionRatio(o.obj(&call{base: baseURL(r)}))
	}
	kinds := map[string]string{"file": "file", "url": "URL", "domain": "domain", "ip_address": "IP address"}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	widgetPage.Execute(w, map[string]any{
		"ID": id, "Type": typ, "Kind": kinds[typ], "Found": o.found, "Detections": det, "Total": total, "Theme": theme,
	})
}

// userSince is the fixed sign-up date of emulated users.
const userSince = 1557214525

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	uid := userID(c.keyHash)
	if id != uid && keyHash(id) != c.keyHash {
		// The id may be someone's API key: never echo it.
		writeError(w, http.StatusNotFound, codeNotFound, "User not found")
		return
	}
	q := s.quotas(c)
	grant := func(g bool) map[string]any { return map[string]any{"granted": g} }
	attrs := map[string]any{
		// VirusTotal shows the caller's own key here, and so does the emulator, so
		// that what keeps it out of vtsoar's answers (vt.Client.CurrentUser, the
		// gateway) is tested against the real thing.
		"apikey":         r.Header.Get("x-apikey"),
		"email":          uid + "@vtsim.invalid",
		"first_name":     "VTSim",
		"last_name":      "User",
		"has_2fa":        false,
		"last_login":     s.now().Unix(),
		"profile_phrase": "Emulated by vtsim",
		"reputation":     1,
		"status":         "active",
		"user_since":     userSince,
		"preferences":    map[string]any{"ui": map[string]any{"last_read_notification_date": userSince}},
		"privileges": map[string]any{
			"admin": grant(false), "allinfo": grant(c.premium), "intelligence": grant(c.premium),
			"private": grant(c.premium), "click_to_accept": grant(false),
		},
		"quotas": map[string]any{},
	}
	for _, name := range []string{"api_requests_daily", "api_requests_hourly", "api_requests_monthly",
		"cases_creation_monthly", "intelligence_downloads_monthly", "intelligence_searches_monthly"} {
		attrs["quotas"].(map[string]any)[name] = map[string]any{"allowed": q[name].allowed, "used": q[name].used}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"type": "user", "id": uid, "links": map[string]any{"self": c.base + "/api/v3/users/" + uid}, "attributes": attrs,
	}})
}

// quota is what one window allows a key and what it used.
type quota struct{ allowed, used int }

// quotas are the quotas of the caller's key: the API windows reflect QuotaMinute,
// QuotaDay and what the key used; premium keys get Intelligence allowances.
func (s *Server) quotas(c *call) map[string]quota {
	u := s.usageOf(c.keyHash)
	allowed := func(limit, unlimited int) int {
		if limit > 0 {
			return limit
		}
		return unlimited
	}
	hourly := 60000000000
	if s.opts.QuotaMinute > 0 {
		hourly = s.opts.QuotaMinute * 60
	}
	monthly := 1000000000
	if s.opts.QuotaDay > 0 {
		monthly = s.opts.QuotaDay * 31
	}
	premium := func(n int) int {
		if c.premium {
			return n
		}
		return 0
	}
	return map[string]quota{
		"api_requests_daily":                   {allowed(s.opts.QuotaDay, 1000000000), u.nDay},
		"api_requests_hourly":                  {hourly, u.nHour},
		"api_requests_monthly":                 {monthly, u.nMonth},
		"cases_creation_monthly":               {20, 0},
		"intelligence_downloads_monthly":       {premium(1000), u.downloads},
		"intelligence_graphs_private":          {0, 0},
		"intelligence_hunting_rules":           {premium(25), 0},
		"intelligence_retrohunt_jobs_monthly":  {premium(5), 0},
		"intelligence_searches_monthly":        {premium(10000), u.searches},
		"intelligence_vtdiff_creation_monthly": {premium(100), 0},
		"monitor_storage_bytes":                {0, 0},
		"monitor_storage_files":                {0, 0},
		"monitor_uploaded_bytes":               {0, 0},
		"monitor_uploaded_files":               {0, 0},
	}
}

// premiumGroup is the group premium keys inherit their allowances from.
const premiumGroup = "vtsim_enterprise"

// overallQuotas serves GET /users/{id}/overall_quotas, which VirusTotal does not count
// against the quota: {"data": {"api_requests_daily": {"user": {"allowed", "used"},
// "group": {...}}, ...}}, the "group" part for premium keys only (the group they
// inherit their allowances from).
func (s *Server) overallQuotas(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	if id != userID(c.keyHash) && keyHash(id) != c.keyHash {
		writeError(w, http.StatusNotFound, codeNotFound, "User not found")
		return
	}
	data := map[string]any{}
	for name, q := range s.quotas(c) {
		entry := map[string]any{"user": map[string]any{"allowed": q.allowed, "used": q.used}}
		if c.premium && !strings.HasPrefix(name, "monitor_") && name != "cases_creation_monthly" {
			entry["group"] = map[string]any{"allowed": q.allowed, "used": q.used, "inherited_from": premiumGroup}
			entry["user"] = map[string]any{"allowed": 0, "used": q.used}
		}
		data[name] = entry
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request, c *call) {
	engines := map[string]any{}
	for _, e := range fileEngines {
		engines[e.name] = map[string]any{"engine_version": e.version, "category": "file"}
	}
	for _, e := range networkEngines {
		if _, dup := engines[e.name]; dup {
			engines[e.name].(map[string]any)["category"] = "file,url"
			continue
		}
		engines[e.name] = map[string]any{"category": "url"}
	}
	// The relationships of each object type, from vt's table, as VirusTotal lists
	// them: {"file": [{"name": ..., "description": ...}], ...}.
	rels := map[string]any{}
	for _, rl := range vt.Relationships() {
		col := rl.Collection.ObjectType()
		list, _ := rels[col].([]any)
		desc := rl.Description
		switch {
		case rl.Premium():
			desc += " (VT Enterprise users only)"
		case rl.Deprecated:
			desc += " (deprecated)"
		}
		rels[col] = append(list, map[string]any{"name": rl.Name, "description": desc})
	}
	privileges := []any{"public"}
	if c.premium {
		privileges = append(privileges, "intelligence", "private")
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"engines": engines, "relationships": rels, "privileges": privileges,
	}})
}
