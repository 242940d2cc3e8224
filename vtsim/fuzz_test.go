package vtsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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
	f.Add(eicarMD5, "network_location", `{"data": {"type": "comment", "attributes": {"text": "#x"}}}`)
	f.Add("example.com", "parent", `{"data": {"type": "vote", "attributes": {"verdict": "harmless"}}}`)
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
			// Comments and votes posted with an arbitrary body (the cursor).
			for _, what := range []string{"comments", "votes"} {
				path := "/api/v3/" + col + "/" + url.PathEscape(id) + "/" + what
				u, err := url.Parse("http://vtsim.test" + path)
				if err != nil {
					continue
				}
				req := httptest.NewRequest("POST", "http://vtsim.test/", strings.NewReader(cursor))
				req.URL, req.RequestURI = u, path
				req.Header.Set("x-apikey", testKey)
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				var m map[string]any
				switch {
				case rec.Code >= 300 && rec.Code < 400:
				case rec.Code != 200 && rec.Code != 400 && rec.Code != 404:
					t.Fatalf("POST %s %q: status %d: %s", path, cursor, rec.Code, rec.Body)
				case json.Unmarshal(rec.Body.Bytes(), &m) != nil:
					t.Fatalf("POST %s: not JSON: %s", path, rec.Body)
				}
			}
		}
	})
}

// FuzzParseFailMix: any text is either refused with an error or a valid mix that
// prints back to itself.
func FuzzParseFailMix(f *testing.F) {
	for _, seed := range []string{"503=0.1,504=0.05,429=0.05,502html=0.05", "", "503", "503=1", "503=0.5,503=0.5",
		"429=1e-3", "502HTML= 0.2 ", "503=NaN", "503=Inf", "503=0x1p-2", ",", "=", "504=0.5,429=0.5000001"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseFailMix(s)
		if err != nil {
			if m != nil || err.Error() == "" {
				t.Fatalf("ParseFailMix(%q) = %v, %v", s, m, err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("ParseFailMix(%q) accepted an invalid mix: %v", s, err)
		}
		again, err := ParseFailMix(m.String())
		if err != nil || again.String() != m.String() {
			t.Fatalf("%q -> %q -> %v, %v", s, m.String(), again, err)
		}
		if _, err := New(Options{FailMix: m}); err != nil {
			t.Fatalf("New refused the mix %q: %v", s, err)
		}
	})
}
