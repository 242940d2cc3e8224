package vtsim

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// jsonKind names the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// shapeCheck compares the emulator's answer (emu) with a real VirusTotal answer (real):
// every key of real must be in emu with the same JSON type, recursively. Maps keyed by
// data (engine names, header names, exiftool tags...) are listed in mapLike: their keys
// may differ, and each emulated value is checked against the first real one. For arrays
// the first element of each is compared. null and string are interchangeable (engine
// "result" is null or a string depending on the verdict). allowed lists real keys the
// emulator leaves out on purpose, with the reason.
type shapeCheck struct {
	t       *testing.T
	mapLike map[string]bool
	allowed map[string]string
}

func (c shapeCheck) compare(path string, real, emu any) {
	c.t.Helper()
	rk, ek := jsonKind(real), jsonKind(emu)
	if rk == "null" || (rk == "string" && ek == "null") || (rk == "null" && ek == "string") {
		return
	}
	if rk != ek {
		c.t.Errorf("%s: real is %s, emulator gives %s (%v)", path, rk, ek, emu)
		return
	}
	switch r := real.(type) {
	case map[string]any:
		e := emu.(map[string]any)
		if c.mapLike[path] {
			var first any
			for _, k := range sortedKeys(r) {
				first = r[k]
				break
			}
			if first == nil {
				return
			}
			if len(e) == 0 {
				c.t.Errorf("%s: emulator gives an empty map, real has entries", path)
			}
			for _, k := range sortedKeys(e) {
				c.compare(path+".*", first, e[k])
			}
			return
		}
		for _, k := range sortedKeys(r) {
			p := path + "." + k
			if _, ok := c.allowed[p]; ok {
				continue
			}
			ev, ok := e[k]
			if !ok {
				c.t.Errorf("%s: missing (real has %s)", p, jsonKind(r[k]))
				continue
			}
			c.compare(p, r[k], ev)
		}
	case []any:
		e := emu.([]any)
		if len(r) > 0 && len(e) > 0 {
			c.compare(path+"[0]", r[0], e[0])
		} else if len(r) > 0 && len(e) == 0 && !c.mapLike[path] {
			c.t.Logf("%s: emulator gives an empty array (real has %d items)", path, len(r))
		}
	}
}

// compareExcept is compare without the members named skip at any depth (a public
// key's overall quotas have no "group" part).
func (c shapeCheck) compareExcept(path string, real, emu any, skip string) {
	c.t.Helper()
	c.compare(path, without(real, skip), emu)
}

func without(v any, skip string) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k != skip {
				out[k] = without(e, skip)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = without(e, skip)
		}
		return out
	}
	return v
}

var objectMapLike = map[string]bool{
	".data.attributes.last_analysis_results":      true,
	".data.attributes.exiftool":                   true,
	".data.attributes.categories":                 true,
	".data.attributes.last_http_response_headers": true,
	".data.attributes.popularity_ranks":           true,
	".data.attributes.trackers":                   true,
	".data.attributes.pe_info.resource_langs":     true,
	".data.attributes.pe_info.resource_types":     true,
	".data.attributes.results":                    true,
	".data.attributes.privileges":                 true,
}

// riskBandID finds an id of the given collection whose digest falls in band b.
func bandPred(b band) func(string) bool {
	return func(id string) bool { d := digestOf(id); return d.exists() && d.band() == b }
}

func TestConformanceFile(t *testing.T) {
	real := loadFixture(t, "file_report_win32_dll_opencti.json")
	e := newEnv(t, Options{})
	// A malicious DLL, as the fixture is.
	id := findID(t, hashCandidate, func(id string) bool {
		d := digestOf(id)
		return d.exists() && d.band() == bandHigh && profileFor(&fileRec{seed: d}).tag == "pedll"
	})
	emu := e.mustGet("/api/v3/files/" + id)
	shapeCheck{t: t, mapLike: objectMapLike}.compare("", real, emu)
	if got := dig(emu, "data", "links", "self"); got != e.ts.URL+"/api/v3/files/"+id {
		t.Errorf("links.self = %v", got)
	}
	// Every engine result carries the real engine result keys.
	for name, r := range dig(emu, "data", "attributes", "last_analysis_results").(map[string]any) {
		for _, k := range []string{"category", "engine_name", "engine_version", "engine_update", "method", "result"} {
			if _, ok := r.(map[string]any)[k]; !ok {
				t.Errorf("engine %s: no %s", name, k)
			}
		}
	}
	if n := len(dig(emu, "data", "attributes", "last_analysis_results").(map[string]any)); n < 70 {
		t.Errorf("%d engines, want 70 or more", n)
	}
}

func TestConformanceFilePDF(t *testing.T) {
	real := loadFixture(t, "file_report_pdf.json")
	e := newEnv(t, Options{})
	id := findID(t, hashCandidate, func(id string) bool {
		d := digestOf(id)
		return d.exists() && profileFor(&fileRec{seed: d}).tag == "pdf"
	})
	emu := e.mustGet("/api/v3/files/" + id)
	shapeCheck{t: t, mapLike: objectMapLike, allowed: map[string]string{
		// threat_severity is computed by VirusTotal for every file; the emulator gives it only
		// to files with 3 or more detections.
		".data.attributes.threat_severity": "only for detected files",
		// available_tools lists VirusTotal's internal analysis tools.
		".data.attributes.available_tools": "VirusTotal internal tooling",
	}}.compare("", real, emu)
}

func TestConformanceURL(t *testing.T) {
	e := newEnv(t, Options{})
	id := findID(t, func(i int) string { return fmt.Sprintf("http://conformance%d.example.com/x", i) },
		func(u string) bool { return bandPred(bandHigh)(urlSHA256ID(u)) })
	emu := e.mustGet("/api/v3/urls/" + urlSHA256ID(id))
	for _, f := range []string{"url_report_opencti.json", "url_report_demisto.json"} {
		t.Run(f, func(t *testing.T) {
			real := loadFixture(t, f)
			delete(real["data"].(map[string]any), "relationships") // asked with ?relationships=, see TestObjectRelationshipsParam
			shapeCheck{t: t, mapLike: objectMapLike}.compare("", real, emu)
		})
	}
	if got := dig(emu, "data", "id"); got != urlSHA256ID(id) {
		t.Errorf("id = %v, want the sha256 form", got)
	}
}

func TestConformanceDomain(t *testing.T) {
	e := newEnv(t, Options{})
	d := findID(t, func(i int) string { return fmt.Sprintf("conformance%d.com", i) }, bandPred(bandMedium))
	emu := e.mustGet("/api/v3/domains/" + d)
	for _, f := range []string{"domain_report_opencti.json", "domain_report_demisto.json"} {
		t.Run(f, func(t *testing.T) {
			shapeCheck{t: t, mapLike: objectMapLike}.compare("", loadFixture(t, f), emu)
		})
	}
}

func TestConformanceIP(t *testing.T) {
	e := newEnv(t, Options{})
	ip := findID(t, func(i int) string { return fmt.Sprintf("93.184.%d.%d", i/250, 1+i%250) }, bandPred(bandLow))
	emu := e.mustGet("/api/v3/ip_addresses/" + ip)
	for _, f := range []string{"ip_report_opencti.json", "ip_report_demisto.json"} {
		t.Run(f, func(t *testing.T) {
			shapeCheck{t: t, mapLike: objectMapLike}.compare("", loadFixture(t, f), emu)
		})
	}
}

func TestConformanceAnalysis(t *testing.T) {
	e := newEnv(t, Options{})
	st, ref := e.upload("/api/v3/files", testKey, "sample.bin", []byte("conformance analysis"))
	if st != 200 {
		t.Fatalf("upload: %d %v", st, ref)
	}
	emu := e.mustGet("/api/v3/analyses/" + dig(ref, "data", "id").(string))
	shapeCheck{t: t, mapLike: objectMapLike}.compare("", loadFixture(t, "analysis_file_docs.json"), emu)

	_, uref := e.do("POST", "/api/v3/urls", testKey, strings.NewReader("url=http://conformance.example.org/a"), "application/x-www-form-urlencoded")
	uemu := e.mustGet("/api/v3/analyses/" + dig(uref, "data", "id").(string))
	shapeCheck{t: t, mapLike: objectMapLike}.compare("", loadFixture(t, "analysis_url_docs.json"), uemu)
	for name, r := range dig(uemu, "data", "attributes", "results").(map[string]any) {
		if _, ok := r.(map[string]any)["engine_version"]; ok {
			t.Errorf("URL engine %s has engine_version; VirusTotal's URL results do not", name)
		}
	}
}

func TestConformanceUser(t *testing.T) {
	e := newEnv(t, Options{})
	emu := e.mustGet("/api/v3/users/" + testKey)
	shapeCheck{t: t, mapLike: objectMapLike, allowed: map[string]string{
		// VirusTotal GUI preferences of a human user (graph walkthroughs seen): nothing an
		// API client can use.
		".data.attributes.preferences.graph": "web UI state",
	}}.compare("", loadFixture(t, "user_docs.json"), emu)
}

func TestConformanceWidget(t *testing.T) {
	e := newEnv(t, Options{})
	emu := e.mustGet("/api/v3/widget/url?query=" + eicarMD5)
	shapeCheck{t: t}.compare("", loadFixture(t, "widget_url_docs.json"), emu)
	for _, k := range []string{"id", "type", "found"} {
		if dig(emu, "data", k) == nil {
			t.Errorf("data.%s missing (live answers carry it)", k)
		}
	}
}

func TestConformanceSearchComments(t *testing.T) {
	e := newEnv(t, Options{})
	q := findID(t, func(i int) string { return fmt.Sprintf("campaign %d", i) },
		func(q string) bool { return int(digestOf("search:" + q)[0])%30 >= 2 })
	emu := e.mustGet("/api/v3/search?limit=1&query=" + url.QueryEscape(q))
	shapeCheck{t: t}.compare("", loadFixture(t, "search_comments_docs.json"), emu)
}

func TestConformanceBehaviourSummary(t *testing.T) {
	e := newEnv(t, Options{})
	emu := e.mustGet("/api/v3/files/" + eicarSHA256 + "/behaviour_summary")
	shapeCheck{t: t}.compare("", loadFixture(t, "behaviour_summary_docs.json"), emu)
}

func TestConformanceRelationshipPages(t *testing.T) {
	e := newEnv(t, Options{})
	ip := findID(t, func(i int) string { return fmt.Sprintf("198.51.%d.%d", i/250, 1+i%250) }, func(ip string) bool {
		rl, _ := findRelationship("ip_addresses", "communicating_files")
		rr, _ := findRelationship("ip_addresses", "resolutions")
		return digestOf(ip).exists() && relCount(ip, specOf(rl)) > 2 && relCount(ip, specOf(rr)) > 2
	})
	real := loadFixture(t, "relationships_ip_files_demisto.json")["communicating_files"]
	emu := e.mustGet("/api/v3/ip_addresses/" + ip + "/relationships/communicating_files?limit=2")
	shapeCheck{t: t}.compare("", real, emu)

	res := e.mustGet("/api/v3/ip_addresses/" + ip + "/resolutions?limit=2")
	shapeCheck{t: t}.compare("", loadFixture(t, "relationships_ip_resolutions.json"), res)
	if got := dig(res, "data").([]any)[0].(map[string]any)["type"]; got != "resolution" {
		t.Errorf("type %v", got)
	}
}

func TestConformanceErrors(t *testing.T) {
	clock := newClock(time.Now())
	e := newEnv(t, Options{QuotaMinute: 1, Now: clock.Now})
	cases := []struct {
		fixture string
		status  int
		do      func() (int, map[string]any)
		exact   bool // the message is VirusTotal's, word for word
	}{
		{"error_authentication_required_docs.json", 401, func() (int, map[string]any) { return e.do("GET", "/api/v3/files/"+eicarMD5, "", nil, "") }, true},
		{"error_wrong_credentials_mock.json", 401, func() (int, map[string]any) { return e.do("GET", "/api/v3/files/"+eicarMD5, "bad-key", nil, "") }, true},
		{"error_not_found_docs.json", 404, func() (int, map[string]any) { return e.get("/api/v3/urls/thisurlidmakesnosenseatall") }, true},
		{"error_quota_exceeded_mock.json", 429, func() (int, map[string]any) { return e.get("/api/v3/files/" + eicarMD5) }, true},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			real := loadFixture(t, c.fixture)
			st, emu := c.do()
			if st != c.status {
				t.Fatalf("status %d, want %d (%v)", st, c.status, emu)
			}
			shapeCheck{t: t}.compare("", real, emu)
			if errCode(emu) != dig(real, "error", "code") {
				t.Errorf("code %q, want %q", errCode(emu), dig(real, "error", "code"))
			}
			if c.exact && dig(emu, "error", "message") != dig(real, "error", "message") {
				t.Errorf("message %q, want %q", dig(emu, "error", "message"), dig(real, "error", "message"))
			}
		})
	}
}

// TestConformanceKeysListed guards the fixtures themselves: if a fixture lost keys, the
// checks above would pass for the wrong reason.
func TestConformanceKeysListed(t *testing.T) {
	real := loadFixture(t, "file_report_win32_dll_opencti.json")
	keys := sortedKeys(dig(real, "data", "attributes").(map[string]any))
	if len(keys) < 30 {
		t.Fatalf("fixture has only %d attribute keys: %v", len(keys), keys)
	}
}

// first wraps the first element of a list fixture as {"data": <element>}: the shape of
// the answer to a post (VirusTotal returns the comment or vote object).
func first(t *testing.T, list map[string]any) map[string]any {
	t.Helper()
	items, _ := list["data"].([]any)
	if len(items) == 0 {
		t.Fatal("fixture list is empty")
	}
	return map[string]any{"data": items[0]}
}

func TestConformanceCommentsAndVotes(t *testing.T) {
	e := newEnv(t, Options{})
	// A file with comments and votes of others, so that the lists have a next page.
	id := findID(t, hashCandidate, func(id string) bool {
		return digestOf(id).exists() && relCount(id, relSpec{name: "comments", target: "comment"}) >= 2 &&
			relCount(id, relSpec{name: "votes", target: "vote"}) >= 2
	})
	base := "/api/v3/files/" + id
	st, posted := e.do("POST", base+"/comments", testKey,
		strings.NewReader(`{"data": {"type": "comment", "attributes": {"text": "EICAR test file #eicar"}}}`), "application/json")
	if st != 200 {
		t.Fatalf("POST comment: %d %v", st, posted)
	}
	comments := loadFixture(t, "comments_file_docs.json")
	shapeCheck{t: t}.compare("", first(t, comments), posted)
	shapeCheck{t: t}.compare("", comments, e.mustGet(base+"/comments?limit=1"))

	st, vote := e.do("POST", base+"/votes", testKey,
		strings.NewReader(`{"data": {"type": "vote", "attributes": {"verdict": "malicious"}}}`), "application/json")
	if st != 200 {
		t.Fatalf("POST vote: %d %v", st, vote)
	}
	votes := loadFixture(t, "votes_file_docs.json")
	shapeCheck{t: t}.compare("", first(t, votes), vote)
	shapeCheck{t: t}.compare("", votes, e.mustGet(base+"/votes?limit=1"))
	mine := e.mustGet(base + "/user_votes")
	shapeCheck{t: t}.compare("", loadFixture(t, "user_votes_file_docs.json"), mine)
	if num(dig(mine, "meta", "count")) != 1 {
		t.Errorf("user_votes count %v, want this user's one vote", dig(mine, "meta", "count"))
	}
}

func TestConformanceNetworkLocation(t *testing.T) {
	e := newEnv(t, Options{})
	u := findID(t, func(i int) string { return fmt.Sprintf("https://netloc%d.example.com/x", i) },
		func(u string) bool { return digestOf(urlSHA256ID(u)).exists() && domainExists(hostOf(u)) })
	e.mustGet("/api/v3/urls/" + base64.RawURLEncoding.EncodeToString([]byte(u)))
	emu := e.mustGet("/api/v3/urls/" + urlSHA256ID(u) + "/network_location")
	shapeCheck{t: t, mapLike: map[string]bool{
		".data.attributes.last_analysis_results": true,
		".data.attributes.categories":            true,
		".data.attributes.popularity_ranks":      true,
	}}.compare("", loadFixture(t, "network_location_domain_docs.json"), emu)
}

func TestConformanceURLRescanAndDownloadURL(t *testing.T) {
	e := newEnv(t, Options{PremiumKeys: []string{"premium-key"}})
	u := findID(t, func(i int) string { return fmt.Sprintf("https://again%d.example.com/", i) },
		func(u string) bool { return digestOf(urlSHA256ID(u)).exists() })
	st, emu := e.do("POST", "/api/v3/urls/"+urlSHA256ID(u)+"/analyse", testKey, nil, "")
	if st != 200 {
		t.Fatalf("POST analyse: %d %v", st, emu)
	}
	shapeCheck{t: t}.compare("", loadFixture(t, "url_analyse_docs.json"), emu)
	st, emu = e.do("GET", "/api/v3/files/"+eicarSHA256+"/download_url", "premium-key", nil, "")
	if st != 200 {
		t.Fatalf("download_url: %d %v", st, emu)
	}
	shapeCheck{t: t}.compare("", loadFixture(t, "download_url_docs.json"), emu)
}

func TestConformanceOverallQuotas(t *testing.T) {
	e := newEnv(t, Options{PremiumKeys: []string{"premium-key"}})
	st, emu := e.do("GET", "/api/v3/users/premium-key/overall_quotas", "premium-key", nil, "")
	if st != 200 {
		t.Fatalf("%d %v", st, emu)
	}
	// The fixture's user belongs to a group: a premium key's quotas do too.
	shapeCheck{t: t}.compare("", loadFixture(t, "overall_quotas_demisto.json"), emu)
	st, pub := e.do("GET", "/api/v3/users/"+testKey+"/overall_quotas", testKey, nil, "")
	if st != 200 {
		t.Fatalf("%d %v", st, pub)
	}
	shapeCheck{t: t, allowed: map[string]string{}}.compareExcept("", loadFixture(t, "overall_quotas_demisto.json"), pub, "group")
}

// The failures FailMix injects have VirusTotal's documented codes and messages.
func TestConformanceInjectedErrors(t *testing.T) {
	for _, tc := range []struct {
		fault   Fault
		fixture string
		status  int
	}{
		{Fault503, "error_transient_docs.json", 503},
		{Fault504, "error_deadline_exceeded_docs.json", 504},
		{Fault429, "error_too_many_requests_docs.json", 429},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			e := newEnv(t, Options{FailMix: FailMix{tc.fault: 1}})
			st, emu := e.get("/api/v3/files/" + eicarMD5)
			real := loadFixture(t, tc.fixture)
			if st != tc.status {
				t.Fatalf("status %d, want %d", st, tc.status)
			}
			shapeCheck{t: t}.compare("", real, emu)
			if dig(emu, "error", "code") != dig(real, "error", "code") || dig(emu, "error", "message") != dig(real, "error", "message") {
				t.Errorf("error %v, want %v", emu, real)
			}
		})
	}
}
