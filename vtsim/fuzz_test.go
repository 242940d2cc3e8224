package vtsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzLookups sends arbitrary ids, relationship names and cursors through the handler:
// every answer must be VirusTotal-shaped JSON with a status a client expects, never a
// panic or a 5xx.
func FuzzLookups(f *testing.F) {
	for _, seed := range []string{
		eicarMD5, eicarSHA256, "8.8.8.8", "2001:db8::1", "example.com", "evil.invalid",
		"aHR0cDovL2V4YW1wbGUuY29tLw", "thisurlidmakesnosenseatall", "", "%00", "..", "a/b",
		"dnNpbQo=", "////", "xn--bcher-kva.example",
	} {
		f.Add(seed, "contacted_ips", seed)
	}
	s := MustNew(Options{})
	f.Fuzz(func(t *testing.T, id, rel, cursor string) {
		for _, col := range []string{"files", "urls", "domains", "ip_addresses"} {
			for _, path := range []string{
				"/api/v3/" + col + "/" + url.PathEscape(id),
				"/api/v3/" + col + "/" + url.PathEscape(id) + "/relationships/" + url.PathEscape(rel) + "?cursor=" + url.QueryEscape(cursor),
				"/api/v3/search?query=" + url.QueryEscape(id) + "&cursor=" + url.QueryEscape(cursor),
				"/api/v3/widget/url?query=" + url.QueryEscape(id),
			} {
				req := httptest.NewRequest("GET", "http://vtsim.test/", nil)
				req.URL.RawPath = ""
				u, err := url.Parse("http://vtsim.test" + path)
				if err != nil {
					continue
				}
				req.URL = u
				req.RequestURI = path
				req.Header.Set("x-apikey", testKey)
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				switch rec.Code {
				case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusForbidden,
					http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
				default:
					t.Fatalf("GET %s: status %d: %s", path, rec.Code, rec.Body)
				}
				if rec.Code >= 300 && rec.Code < 400 {
					continue // the mux cleaning a path like /a/../b
				}
				var m map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
					t.Fatalf("GET %s: not JSON: %s", path, rec.Body)
				}
				if rec.Code != 200 {
					if _, ok := dig(m, "error", "code").(string); !ok {
						t.Fatalf("GET %s: %d without an error code: %s", path, rec.Code, rec.Body)
					}
				}
			}
		}
	})
}
