package vtsim

// The widget endpoints: a widget URL for a query, and its HTML page.

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
)

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
