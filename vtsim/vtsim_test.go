package vtsim

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nextMidnight is the first 00:00 UTC after the test run began: tests that cross a day
// do so on the coming one, never on a calendar date that will pass.
var nextMidnight = time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)

// t0 is 1 minute 50 seconds before nextMidnight.
var t0 = nextMidnight.Add(-110 * time.Second)

func TestEICARIsHighUnderEveryHash(t *testing.T) {
	e := newEnv(t, Options{})
	for _, h := range []string{eicarMD5, eicarSHA1, strings.ToUpper(eicarSHA256)} {
		m := e.mustGet("/api/v3/files/" + h)
		if dig(m, "data", "id") != eicarSHA256 || dig(m, "data", "type") != "file" {
			t.Errorf("%s: id %v type %v", h, dig(m, "data", "id"), dig(m, "data", "type"))
		}
		if mal := num(dig(m, "data", "attributes", "last_analysis_stats", "malicious")); mal < 60 {
			t.Errorf("%s: %d malicious, want 60+", h, mal)
		}
		if dig(m, "data", "attributes", "md5") != eicarMD5 || dig(m, "data", "attributes", "sha1") != eicarSHA1 {
			t.Errorf("%s: hashes %v %v", h, dig(m, "data", "attributes", "md5"), dig(m, "data", "attributes", "sha1"))
		}
	}
}

func TestUniverseRules(t *testing.T) {
	e := newEnv(t, Options{})
	notFound := []string{
		"/api/v3/files/" + strings.Repeat("0", 64),
		"/api/v3/files/" + strings.Repeat("0", 32),
		"/api/v3/files/not-a-hash",
		"/api/v3/domains/evil.invalid",
		"/api/v3/urls/" + base64.RawURLEncoding.EncodeToString([]byte("http://phish.invalid/login")),
		"/api/v3/ip_addresses/999.1.1.1",
	}
	// An id whose digest starts with hex digit 0, for each collection.
	notFound = append(notFound,
		"/api/v3/files/"+findID(t, hashCandidate, func(id string) bool { return digestOf(id)[0] < 0x10 }),
		"/api/v3/domains/"+findID(t, func(i int) string { return fmt.Sprintf("d%d.org", i) }, func(id string) bool { return digestOf(id)[0] < 0x10 }),
		"/api/v3/ip_addresses/"+findID(t, func(i int) string { return fmt.Sprintf("203.0.%d.%d", i/250, i%250) }, func(id string) bool { return digestOf(id)[0] < 0x10 }),
	)
	for _, p := range notFound {
		st, m := e.get(p)
		if st != http.StatusNotFound || errCode(m) != "NotFoundError" {
			t.Errorf("GET %s: %d %v, want 404 NotFoundError", p, st, m)
		}
	}
	// IPv6 and IPv4 exist under the rule, with canonical ids.
	v6 := findID(t, func(i int) string { return fmt.Sprintf("2001:db8::%x", i+1) }, func(id string) bool { return digestOf(id).exists() })
	m := e.mustGet("/api/v3/ip_addresses/" + strings.ToUpper(v6))
	if dig(m, "data", "id") != v6 || dig(m, "data", "type") != "ip_address" {
		t.Errorf("IPv6: %v %v", dig(m, "data", "id"), dig(m, "data", "type"))
	}
}

// TestRiskBandsAcrossUniverse checks the verdict distribution the package doc promises.
func TestRiskBandsAcrossUniverse(t *testing.T) {
	counts := map[string]int{}
	const n = 4000
	for i := 0; i < n; i++ {
		id := hashCandidate(i)
		d := digestOf(id)
		if !d.exists() {
			counts["notfound"]++
			continue
		}
		rec := &fileRec{seed: d, sha256: id}
		st := statsOf(fileScansOf(rec), fileStatKeys)
		m, s := st["malicious"].(int), st["suspicious"].(int)
		v := fileVerdict(rec)
		switch {
		case m >= 10:
			counts["high"]++
		case m >= 3 || m+s >= 5:
			counts["medium"]++
		case m+s >= 1 || v.reputation < 0:
			counts["low"]++
		default:
			counts["clean"]++
		}
	}
	t.Logf("distribution over %d ids: %v", n, counts)
	if nf := counts["notfound"]; nf < n/16-80 || nf > n/16+80 {
		t.Errorf("not found: %d of %d, want about 1/16", nf, n)
	}
	for _, k := range []string{"clean", "low", "medium", "high"} {
		if counts[k] < n/20 {
			t.Errorf("%s: only %d", k, counts[k])
		}
	}
	if counts["clean"] < counts["low"]+counts["medium"]+counts["high"] {
		t.Errorf("clean is not the majority: %v", counts)
	}
}

func TestAliasConsistency(t *testing.T) {
	e := newEnv(t, Options{})
	md5id := findID(t, func(i int) string { return hashCandidate(i)[:32] }, func(id string) bool { return digestOf(id).exists() })
	byMD5 := e.mustGet("/api/v3/files/" + md5id)
	sha256id := dig(byMD5, "data", "id").(string)
	sha1id := dig(byMD5, "data", "attributes", "sha1").(string)
	if sha256id == md5id || len(sha256id) != 64 || len(sha1id) != 40 {
		t.Fatalf("derived hashes: %s %s", sha256id, sha1id)
	}
	for _, h := range []string{sha256id, sha1id} {
		m := e.mustGet("/api/v3/files/" + h)
		if dig(m, "data", "attributes", "md5") != md5id {
			t.Errorf("by %s: md5 %v, want %s", h, dig(m, "data", "attributes", "md5"), md5id)
		}
		for _, k := range []string{"last_analysis_stats", "size", "names", "first_submission_date", "type_tag"} {
			if fmt.Sprint(dig(m, "data", "attributes", k)) != fmt.Sprint(dig(byMD5, "data", "attributes", k)) {
				t.Errorf("by %s: %s differs: %v vs %v", h, k, dig(m, "data", "attributes", k), dig(byMD5, "data", "attributes", k))
			}
		}
	}
}

// notExisting finds content whose sha256 the universe says does not exist.
func notExisting(t *testing.T, prefix string) []byte {
	for i := 0; ; i++ {
		b := []byte(fmt.Sprintf("%s %d", prefix, i))
		if !digestOf(sha256Hex(string(b))).exists() {
			return b
		}
	}
}

func TestUploadAnalysisLifecycle(t *testing.T) {
	clock := newClock(t0)
	e := newEnv(t, Options{Now: clock.Now, AnalysisTime: 30 * time.Second})
	content := notExisting(t, "never seen before")
	sum256 := sha256Hex(string(content))
	m5, s1 := md5.Sum(content), sha1.Sum(content)
	md5hex, sha1hex := hex.EncodeToString(m5[:]), hex.EncodeToString(s1[:])

	st, ref := e.upload("/api/v3/files", testKey, "dropper.exe", content)
	if st != 200 || dig(ref, "data", "type") != "analysis" {
		t.Fatalf("upload: %d %v", st, ref)
	}
	aid := dig(ref, "data", "id").(string)
	if dec, err := base64.StdEncoding.DecodeString(aid); err != nil || !strings.HasPrefix(string(dec), md5hex+":") {
		t.Errorf("analysis id %q does not decode to md5:timestamp (%q, %v)", aid, dec, err)
	}
	if st, _ := e.get("/api/v3/files/" + sum256); st != 404 {
		t.Errorf("file before its analysis completes: %d, want 404", st)
	}
	steps := []struct {
		after  time.Duration
		status string
	}{{0, "queued"}, {5 * time.Second, "queued"}, {15 * time.Second, "in-progress"}, {30 * time.Second, "completed"}}
	for _, s := range steps {
		clock.Set(t0.Add(s.after))
		a := e.mustGet("/api/v3/analyses/" + aid)
		if got := dig(a, "data", "attributes", "status"); got != s.status {
			t.Errorf("at +%v: status %v, want %s", s.after, got, s.status)
		}
		results := dig(a, "data", "attributes", "results").(map[string]any)
		switch s.status {
		case "queued":
			if len(results) != 0 {
				t.Errorf("queued with %d results", len(results))
			}
		case "in-progress":
			if len(results) == 0 || len(results) >= len(fileEngines) {
				t.Errorf("in-progress with %d results", len(results))
			}
		case "completed":
			if len(results) != len(fileEngines) {
				t.Errorf("completed with %d results", len(results))
			}
		}
		fi := dig(a, "meta", "file_info").(map[string]any)
		if fi["sha256"] != sum256 || fi["md5"] != md5hex || fi["sha1"] != sha1hex || num(fi["size"]) != len(content) {
			t.Errorf("file_info %v", fi)
		}
	}
	for _, h := range []string{sum256, md5hex, sha1hex} {
		f := e.mustGet("/api/v3/files/" + h)
		at := dig(f, "data", "attributes").(map[string]any)
		if at["sha256"] != sum256 || at["md5"] != md5hex || at["sha1"] != sha1hex || num(at["size"]) != len(content) {
			t.Errorf("by %s: hashes/size %v %v %v %v", h, at["sha256"], at["md5"], at["sha1"], at["size"])
		}
		if num(at["last_analysis_date"]) != int(t0.Add(30*time.Second).Unix()) {
			t.Errorf("last_analysis_date %v", at["last_analysis_date"])
		}
		if fmt.Sprint(at["names"]) == "" || at["meaningful_name"] != "dropper.exe" {
			t.Errorf("names %v meaningful_name %v", at["names"], at["meaningful_name"])
		}
	}
	// Re-analysis of an existing file.
	clock.Add(time.Hour)
	st, ref2 := e.do("POST", "/api/v3/files/"+sum256+"/analyse", testKey, nil, "")
	if st != 200 || dig(ref2, "data", "id") == aid {
		t.Fatalf("analyse: %d %v", st, ref2)
	}
	if st, _ := e.do("POST", "/api/v3/files/"+strings.Repeat("0", 64)+"/analyse", testKey, nil, ""); st != 404 {
		t.Errorf("analyse of a missing file: %d", st)
	}
}

func TestURLScanLifecycle(t *testing.T) {
	clock := newClock(t0)
	e := newEnv(t, Options{Now: clock.Now, AnalysisTime: 9 * time.Second})
	raw := findID(t, func(i int) string { return fmt.Sprintf("http://brand-new-%d.example.net/landing", i) },
		func(u string) bool { return !digestOf(urlSHA256ID(u)).exists() })
	id := base64.RawURLEncoding.EncodeToString([]byte(raw))
	if st, _ := e.get("/api/v3/urls/" + id); st != 404 {
		t.Fatalf("unknown URL: %d, want 404", st)
	}
	forms := map[string]func() (int, map[string]any){
		"urlencoded": func() (int, map[string]any) {
			return e.do("POST", "/api/v3/urls", testKey, strings.NewReader(url.Values{"url": {raw}}.Encode()), "application/x-www-form-urlencoded")
		},
		"multipart": func() (int, map[string]any) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			mw.WriteField("url", raw)
			mw.Close()
			return e.do("POST", "/api/v3/urls", testKey, &buf, mw.FormDataContentType())
		},
	}
	var aid string
	for name, post := range forms {
		st, ref := post()
		if st != 200 || dig(ref, "data", "type") != "analysis" {
			t.Fatalf("%s: %d %v", name, st, ref)
		}
		aid = dig(ref, "data", "id").(string)
		if !strings.HasPrefix(aid, "u-"+urlSHA256ID(raw)+"-") {
			t.Errorf("%s: analysis id %s", name, aid)
		}
	}
	if st, _ := e.get("/api/v3/urls/" + id); st != 404 {
		t.Errorf("URL before its scan completes: %d, want 404", st)
	}
	clock.Add(9 * time.Second)
	a := e.mustGet("/api/v3/analyses/" + aid)
	if dig(a, "data", "attributes", "status") != "completed" || dig(a, "meta", "url_info", "url") != raw || dig(a, "meta", "url_info", "id") != urlSHA256ID(raw) {
		t.Errorf("analysis %v meta %v", dig(a, "data", "attributes", "status"), dig(a, "meta"))
	}
	for _, form := range []string{id, urlSHA256ID(raw)} {
		u := e.mustGet("/api/v3/urls/" + form)
		if dig(u, "data", "attributes", "url") != raw || dig(u, "data", "id") != urlSHA256ID(raw) {
			t.Errorf("by %s: url %v id %v", form, dig(u, "data", "attributes", "url"), dig(u, "data", "id"))
		}
	}
	if st, m := e.do("POST", "/api/v3/urls", testKey, strings.NewReader("nourl=1"), "application/x-www-form-urlencoded"); st != 400 {
		t.Errorf("POST /urls without url: %d %v", st, m)
	}
}

func TestUploadURLSingleUse(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.mustGet("/api/v3/files/upload_url")
	up, ok := m["data"].(string)
	if !ok || !strings.HasPrefix(up, e.ts.URL+"/_upload/") {
		t.Fatalf("upload_url %v", m)
	}
	content := []byte("big file through the upload URL")
	st, ref := e.upload(up, testKey, "big.bin", content)
	if st != 200 {
		t.Fatalf("first post: %d %v", st, ref)
	}
	a := e.mustGet("/api/v3/analyses/" + dig(ref, "data", "id").(string))
	if dig(a, "meta", "file_info", "sha256") != sha256Hex(string(content)) {
		t.Errorf("file_info %v", dig(a, "meta", "file_info"))
	}
	if st, m := e.upload(up, testKey, "big.bin", content); st != 400 || errCode(m) != "BadRequestError" {
		t.Errorf("second post: %d %v, want 400", st, m)
	}
	if st, m := e.upload(e.ts.URL+"/_upload/forged", testKey, "x", content); st != 400 {
		t.Errorf("forged token: %d %v", st, m)
	}
	if st, _ := e.upload(e.mustGet("/api/v3/files/upload_url")["data"].(string), "", "x", content); st != 401 {
		t.Errorf("upload URL without a key: %d", st)
	}
}

func relPath(col, id, rel string, descriptors bool) string {
	if descriptors {
		return "/api/v3/" + col + "/" + id + "/relationships/" + rel
	}
	return "/api/v3/" + col + "/" + id + "/" + rel
}

func TestRelationshipCursorsPageExactly(t *testing.T) {
	e := newEnv(t, Options{})
	rl, _ := findRelationship("domains", "subdomains")
	dom := findID(t, func(i int) string { return fmt.Sprintf("paging%d.net", i) },
		func(d string) bool { return domainExists(d) && relCount(d, specOf(rl)) >= 25 })
	want := relCount(dom, specOf(rl))
	for _, descriptors := range []bool{true, false} {
		seen := map[string]bool{}
		next := relPath("domains", dom, "subdomains", descriptors) + "?limit=7"
		pages := 0
		for next != "" {
			m := e.mustGet(strings.TrimPrefix(next, e.ts.URL))
			pages++
			if num(dig(m, "meta", "count")) != want {
				t.Errorf("meta.count %v, want %d", dig(m, "meta", "count"), want)
			}
			for _, it := range m["data"].([]any) {
				id := dig(it, "id").(string)
				if seen[id] {
					t.Errorf("%s repeated", id)
				}
				seen[id] = true
				if !descriptors && dig(it, "attributes", "last_analysis_stats") == nil {
					t.Errorf("full object without attributes: %v", it)
				}
			}
			next, _ = dig(m, "links", "next").(string)
			if next != "" && dig(m, "meta", "cursor") == nil {
				t.Error("links.next without meta.cursor")
			}
			if pages > 10 {
				t.Fatal("paging does not end")
			}
		}
		if len(seen) != want || pages != (want+6)/7 {
			t.Errorf("descriptors=%v: %d items in %d pages, want %d in %d", descriptors, len(seen), pages, want, (want+6)/7)
		}
	}
	// Every related object can be fetched.
	m := e.mustGet(relPath("domains", dom, "subdomains", true) + "?limit=3")
	for _, it := range m["data"].([]any) {
		e.mustGet("/api/v3/domains/" + dig(it, "id").(string))
	}
	f := e.mustGet(relPath("files", eicarSHA256, "contacted_urls", true) + "?limit=40")
	for _, it := range f["data"].([]any) {
		u := e.mustGet("/api/v3/urls/" + dig(it, "id").(string))
		if got := urlSHA256ID(dig(u, "data", "attributes", "url").(string)); got != dig(it, "id") {
			t.Errorf("related URL %v: its url attribute hashes to %s", dig(it, "id"), got)
		}
	}
	if st, m := e.get(relPath("domains", dom, "subdomains", true) + "?cursor=garbage"); st != 400 {
		t.Errorf("bad cursor: %d %v", st, m)
	}
}

func TestRelationshipErrors(t *testing.T) {
	e := newEnv(t, Options{PremiumKeys: []string{"premium-key"}})
	cases := []struct {
		path, key string
		status    int
		code      string
	}{
		{relPath("files", eicarMD5, "similar_files", false), testKey, 403, "ForbiddenError"},
		{relPath("files", eicarMD5, "similar_files", true), testKey, 403, "ForbiddenError"},
		{relPath("files", eicarMD5, "similar_files", false), "premium-key", 200, ""},
		{relPath("domains", "example.com", "urls", true), testKey, 403, "ForbiddenError"},
		{relPath("domains", "example.com", "urls", true), "premium-key", 200, ""},
		{relPath("files", eicarMD5, "contacted_ips", true) + "?limit=41", testKey, 400, "BadRequestError"},
		{relPath("files", eicarMD5, "contacted_ips", true) + "?limit=40", testKey, 200, ""},
		{relPath("files", eicarMD5, "contacted_ips", true) + "?limit=0", testKey, 400, "BadRequestError"},
		{relPath("files", eicarMD5, "no_such_relationship", false), testKey, 400, "InvalidArgumentError"},
		{relPath("files", strings.Repeat("0", 64), "contacted_ips", false), testKey, 404, "NotFoundError"},
		{"/api/v3/intelligence/search?query=type:peexe", testKey, 403, "ForbiddenError"},
		{"/api/v3/intelligence/search?query=type:peexe", "premium-key", 200, ""},
		{"/api/v3/files/" + eicarMD5 + "?relationships=contacted_ips,similar_files", testKey, 403, "ForbiddenError"},
	}
	for _, c := range cases {
		st, m := e.do("GET", c.path, c.key, nil, "")
		if st != c.status || errCode(m) != c.code {
			t.Errorf("GET %s (%s): %d %q, want %d %q", c.path, c.key, st, errCode(m), c.status, c.code)
		}
	}
}

func TestObjectRelationshipsParam(t *testing.T) {
	e := newEnv(t, Options{})
	u := findID(t, func(i int) string { return fmt.Sprintf("https://rel%d.example.com/", i) },
		func(u string) bool {
			return digestOf(urlSHA256ID(u)).exists() && domainExists(hostOf(u))
		})
	// Asked by its base64url id, so that the emulator knows the URL's text.
	m := e.mustGet("/api/v3/urls/" + base64.RawURLEncoding.EncodeToString([]byte(u)) + "?relationships=last_serving_ip_address,network_location,comments")
	rels := dig(m, "data", "relationships").(map[string]any)
	if dig(rels, "last_serving_ip_address", "data", "type") != "ip_address" {
		t.Errorf("last_serving_ip_address %v", rels["last_serving_ip_address"])
	}
	if dig(rels, "network_location", "data", "type") != "domain" || dig(rels, "network_location", "data", "id") != hostOf(u) {
		t.Errorf("network_location %v, want the URL's host %s", rels["network_location"], hostOf(u))
	}
	if _, ok := dig(rels, "comments", "data").([]any); !ok {
		t.Errorf("comments %v", rels["comments"])
	}
}

func TestQuotaWindows(t *testing.T) {
	clock := newClock(nextMidnight.Add(-2 * time.Minute))
	e := newEnv(t, Options{Now: clock.Now, QuotaMinute: 3, QuotaDay: 5})
	get := func(key string) int {
		st, m := e.do("GET", "/api/v3/files/"+eicarMD5, key, nil, "")
		if st == 429 && (errCode(m) != "QuotaExceededError" || dig(m, "error", "message") != "Quota exceeded") {
			t.Errorf("429 body %v", m)
		}
		return st
	}
	var got []int
	for i := 0; i < 4; i++ {
		got = append(got, get(testKey))
	}
	if fmt.Sprint(got) != "[200 200 200 429]" {
		t.Errorf("first minute: %v", got)
	}
	if st := get("other-key"); st != 200 {
		t.Errorf("another key shares the quota: %d", st)
	}
	clock.Add(time.Minute) // 23:59: a new minute, two left for the day
	got = nil
	for i := 0; i < 3; i++ {
		got = append(got, get(testKey))
	}
	if fmt.Sprint(got) != "[200 200 429]" {
		t.Errorf("second minute (daily quota): %v", got)
	}
	clock.Add(30 * time.Second) // 23:59:30: same day, new requests still refused
	if st := get(testKey); st != 429 {
		t.Errorf("same day: %d", st)
	}
	clock.Add(30 * time.Second) // 00:00 UTC: the daily quota resets
	if st := get(testKey); st != 200 {
		t.Errorf("after 00:00 UTC: %d", st)
	}
	u := e.mustGet("/api/v3/users/" + testKey)
	if used := num(dig(u, "data", "attributes", "quotas", "api_requests_daily", "used")); used != 2 {
		t.Errorf("daily used %d, want 2 (this request included)", used)
	}
	if allowed := num(dig(u, "data", "attributes", "quotas", "api_requests_daily", "allowed")); allowed != 5 {
		t.Errorf("daily allowed %d", allowed)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, Options{})
	for key, want := range map[string]string{"": "AuthenticationRequiredError", "bad-key": "WrongCredentialsError"} {
		for _, p := range []string{"/api/v3/files/" + eicarMD5, "/api/v3/metadata", "/api/v3/no/such/endpoint"} {
			st, m := e.do("GET", p, key, nil, "")
			if st != 401 || errCode(m) != want {
				t.Errorf("GET %s key %q: %d %v", p, key, st, m)
			}
		}
	}
}

// The user object shows the caller's own key in "apikey", as VirusTotal's does, and
// nowhere else (its id and links name the user); nobody else's user is shown.
func TestUserObjectShowsOnlyTheCallersKey(t *testing.T) {
	e := newEnv(t, Options{PremiumKeys: []string{"premium-key"}})
	st, m := e.do("GET", "/api/v3/users/premium-key", "premium-key", nil, "")
	if st != 200 {
		t.Fatalf("%d %v", st, m)
	}
	if k := dig(m, "data", "attributes", "apikey"); k != "premium-key" {
		t.Errorf("apikey = %v, want the caller's key", k)
	}
	delete(dig(m, "data", "attributes").(map[string]any), "apikey")
	if body := fmt.Sprint(m); strings.Contains(body, "premium-key") {
		t.Errorf("user object shows the API key besides its apikey attribute: %s", body)
	}
	uid := dig(m, "data", "id").(string)
	if dig(m, "data", "attributes", "privileges", "intelligence", "granted") != true {
		t.Errorf("premium key without intelligence privilege")
	}
	if st, _ := e.do("GET", "/api/v3/users/"+uid, "premium-key", nil, ""); st != 200 {
		t.Errorf("by user id: %d", st)
	}
	if st, m := e.do("GET", "/api/v3/users/premium-key", testKey, nil, ""); st != 404 || strings.Contains(fmt.Sprint(m), "premium-key") {
		t.Errorf("someone else's user: %d %v", st, m)
	}
}

func TestFailRateIsSeededAndCounted(t *testing.T) {
	run := func() []int {
		e := newEnv(t, Options{FailRate: 0.3, Seed: 42})
		var out []int
		for i := 0; i < 200; i++ {
			st, m := e.get("/api/v3/files/" + eicarMD5)
			if st == 503 && errCode(m) != "TransientError" {
				t.Fatalf("503 body %v", m)
			}
			out = append(out, st)
		}
		if got := e.srv.Stats().ByStatus["503"]; got != count(out, 503) {
			t.Errorf("stats 503 = %d, want %d", got, count(out, 503))
		}
		return out
	}
	a, b := run(), run()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("same seed, different failures")
	}
	if n := count(a, 503); n < 35 || n > 85 {
		t.Errorf("%d failures of 200 at rate 0.3", n)
	}
}

func count(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

func TestLatencyRespectsCancellation(t *testing.T) {
	e := newEnv(t, Options{Latency: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/api/v3/files/"+eicarMD5, nil)
	req.Header.Set("x-apikey", testKey)
	start := time.Now()
	_, err := e.ts.Client().Do(req)
	if err == nil {
		t.Fatal("request answered despite 10s latency")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	// The handler notices the cancellation and the request is counted as abandoned.
	deadline := time.Now().Add(2 * time.Second)
	for e.srv.Stats().ByStatus["499"] != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := e.srv.Stats().ByStatus["499"]; got != 1 {
		t.Errorf("abandoned requests counted: %d", got)
	}
}

func TestStatsAndReset(t *testing.T) {
	clock := newClock(t0)
	e := newEnv(t, Options{Now: clock.Now, QuotaMinute: 3})
	e.get("/api/v3/files/" + eicarMD5)
	e.get("/api/v3/files/" + strings.Repeat("0", 64))
	e.do("GET", "/api/v3/files/"+eicarMD5, "", nil, "")
	e.get("/api/v3/domains/example.com")
	e.get("/api/v3/files/" + eicarMD5) // 429: the minute quota is 3
	st, m := e.do("GET", "/_emulator/stats", "", nil, "")
	if st != 200 {
		t.Fatal(st)
	}
	if num(m["requests"]) != 5 || num(dig(m, "by_endpoint", "GET /files/{id}")) != 4 || num(dig(m, "by_endpoint", "GET /domains/{id}")) != 1 {
		t.Errorf("stats %v", m)
	}
	for status, n := range map[string]int{"200": 2, "404": 1, "401": 1, "429": 1} {
		if num(dig(m, "by_status", status)) != n {
			t.Errorf("by_status[%s] = %v, want %d", status, dig(m, "by_status", status), n)
		}
	}
	if st, _ := e.do("POST", "/_emulator/reset", "", nil, ""); st != 200 {
		t.Fatal(st)
	}
	_, m = e.do("GET", "/_emulator/stats", "", nil, "")
	if num(m["requests"]) != 0 || len(m["by_endpoint"].(map[string]any)) != 0 {
		t.Errorf("after reset: %v", m)
	}
	if st, _ := e.get("/api/v3/files/" + eicarMD5); st != 200 {
		t.Errorf("quota not reset: %d", st)
	}
	// Reset keeps uploads unless asked to forget everything.
	content := notExisting(t, "kept across a counters reset")
	e.upload("/api/v3/files", testKey, "a", content)
	e.do("POST", "/_emulator/reset", "", nil, "")
	if st, _ := e.get("/api/v3/files/" + sha256Hex(string(content))); st != 200 {
		t.Errorf("upload forgotten by a counters reset: %d", st)
	}
	e.do("POST", "/_emulator/reset?all=true", "", nil, "")
	if st, _ := e.get("/api/v3/files/" + sha256Hex(string(content))); st != 404 {
		t.Errorf("upload kept by a full reset: %d", st)
	}
}

func TestSearch(t *testing.T) {
	e := newEnv(t, Options{})
	cases := map[string]string{
		eicarMD5:               "file",
		"example.com":          "domain",
		"http://example.com/a": "url",
		"8.8.8.8":              "ip_address",
		"2001:4860:4860::8888": "ip_address",
	}
	for q, typ := range cases {
		m := e.mustGet("/api/v3/search?query=" + url.QueryEscape(q))
		data := m["data"].([]any)
		exists := false
		switch typ {
		case "file":
			exists = true
		case "domain":
			exists = domainExists(q)
		case "ip_address":
			a, _ := canonicalIP(q)
			exists = ipExists(a)
		case "url":
			exists = digestOf(urlSHA256ID("http://example.com/a")).exists()
		}
		if exists != (len(data) == 1) {
			t.Errorf("%s: %d results, exists=%v", q, len(data), exists)
			continue
		}
		if exists && dig(data[0], "type") != typ {
			t.Errorf("%s: type %v", q, dig(data[0], "type"))
		}
	}
	if st, m := e.get("/api/v3/search"); st != 400 {
		t.Errorf("search without query: %d %v", st, m)
	}
}

func TestWidget(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.mustGet("/api/v3/widget/url?query=" + eicarMD5 + "&bg1=000000")
	if dig(m, "data", "found") != true || dig(m, "data", "type") != "file" || dig(m, "data", "id") != eicarSHA256 {
		t.Errorf("widget %v", m)
	}
	det := num(dig(m, "data", "detection_ratio", "detections"))
	if det != eicarMalicious {
		t.Errorf("detections %d", det)
	}
	page := dig(m, "data", "url").(string)
	if !strings.HasPrefix(page, e.ts.URL+"/ui/widget/html/") {
		t.Fatalf("widget url %s", page)
	}
	resp, err := http.Get(page) // no API key: the page is for iframes
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("widget page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"<!DOCTYPE html>", fmt.Sprintf("%d / ", det), eicarSHA256, "#000000"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("widget page lacks %q", want)
		}
	}
	tampered := page[:len(page)-3] + "AAA"
	if resp, err := http.Get(tampered); err != nil || resp.StatusCode != 404 {
		t.Errorf("tampered token: %v %v", resp.StatusCode, err)
	}
	if st, m := e.get("/api/v3/widget/url?query=" + url.QueryEscape("not an observable !")); st != 400 {
		t.Errorf("bad query: %d %v", st, m)
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.mustGet("/api/v3/metadata")
	if n := len(dig(m, "data", "engines").(map[string]any)); n < 70 {
		t.Errorf("%d engines", n)
	}
	for _, col := range []string{"file", "url", "domain", "ip_address"} {
		if rels, _ := dig(m, "data", "relationships", col).([]any); len(rels) < 10 {
			t.Errorf("%s: %d relationships", col, len(rels))
		}
	}
}

func TestDataDir(t *testing.T) {
	dir := fixturesDir(t)
	e := newEnv(t, Options{DataDir: dir})
	want, err := os.ReadFile(filepath.Join(dir, "file_report_win32_dll_opencti.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"4bc00f7d638e042da764e8648c03c0db46700599dd4f08d117e3e9e8b538519b", "546bb6ef89bebfb053999777f6930d7e", "44392b16e2db656104579e83d603b363bf91ccb2"} {
		req, _ := http.NewRequest("GET", e.ts.URL+"/api/v3/files/"+h, nil)
		req.Header.Set("x-apikey", testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Errorf("%s: %d, body served as is: %v", h, resp.StatusCode, bytes.Equal(got, want))
		}
	}
	d := e.mustGet("/api/v3/domains/tawuhoju.com")
	if num(dig(d, "data", "attributes", "last_analysis_stats", "malicious")) != 6 {
		t.Errorf("domain not from the data dir: %v", dig(d, "data", "attributes", "last_analysis_stats"))
	}
	ip := e.mustGet("/api/v3/ip_addresses/138.128.150.133")
	if dig(ip, "data", "attributes", "as_owner") != "CLOUD-SOUTH" {
		t.Errorf("ip not from the data dir")
	}
	if _, err := New(Options{DataDir: filepath.Join(dir, "no-such-dir")}); err == nil {
		t.Error("missing data dir accepted")
	}
}

// TestCachedFileRefreshedByAnalysis: a file served from the render cache shows its new
// analysis date once an analysis of it completes.
func TestCachedFileRefreshedByAnalysis(t *testing.T) {
	clock := newClock(t0)
	e := newEnv(t, Options{Now: clock.Now})
	id := findID(t, hashCandidate, func(id string) bool { return digestOf(id).exists() })
	before := e.mustGet("/api/v3/files/" + id)
	e.mustGet("/api/v3/files/" + id) // cached now
	if st, _ := e.do("POST", "/api/v3/files/"+id+"/analyse", testKey, nil, ""); st != 200 {
		t.Fatal(st)
	}
	after := e.mustGet("/api/v3/files/" + id)
	if got := num(dig(after, "data", "attributes", "last_analysis_date")); got != int(t0.Unix()) {
		t.Errorf("last_analysis_date %d (was %v), want %d", got, dig(before, "data", "attributes", "last_analysis_date"), t0.Unix())
	}
}

// statsAtHeader snapshots the emulator's stats when the status line is written.
type statsAtHeader struct {
	*httptest.ResponseRecorder
	srv  *Server
	seen *Stats
}

func (w statsAtHeader) WriteHeader(code int) {
	if w.seen.ByStatus == nil {
		*w.seen = w.srv.Stats()
	}
	w.ResponseRecorder.WriteHeader(code)
}

func (w statsAtHeader) Write(b []byte) (int, error) {
	if w.seen.ByStatus == nil {
		*w.seen = w.srv.Stats()
	}
	return w.ResponseRecorder.Write(b)
}

func TestStatsCountAnAnswerBeforeItIsWritten(t *testing.T) {
	clock := newClock(t0)
	e := newEnv(t, Options{Now: clock.Now, QuotaMinute: 3})
	answers := []struct {
		path, key string
		status    int
	}{
		{"/api/v3/files/" + eicarMD5, testKey, 200},
		{"/api/v3/files/" + strings.Repeat("0", 64), testKey, 404},
		{"/api/v3/domains/example.com", "", 401},
		{"/api/v3/ip_addresses/8.8.8.8", testKey, 200},
		{"/api/v3/files/" + eicarMD5, testKey, 429},
	}
	// Through the handler: the request is counted, with its status, by the time the
	// status line is written.
	for i, a := range answers {
		var seen Stats
		req := httptest.NewRequest("GET", a.path, nil)
		if a.key != "" {
			req.Header.Set("x-apikey", a.key)
		}
		w := statsAtHeader{ResponseRecorder: httptest.NewRecorder(), srv: e.srv, seen: &seen}
		e.srv.ServeHTTP(w, req)
		if w.Code != a.status {
			t.Fatalf("%s: status %d, want %d", a.path, w.Code, a.status)
		}
		if seen.Requests != i+1 || seen.ByStatus[strconv.Itoa(a.status)] == 0 {
			t.Errorf("%s: stats when the status was written: %+v, want %d requests with a %d", a.path, seen, i+1, a.status)
		}
	}

	// Over HTTP: stats read right after each answer include it.
	if st, _ := e.do("POST", "/_emulator/reset", "", nil, ""); st != 200 {
		t.Fatal(st)
	}
	for i, a := range answers {
		if st, _ := e.do("GET", a.path, a.key, nil, ""); st != a.status {
			t.Fatalf("%s: status %d, want %d", a.path, st, a.status)
		}
		got := e.srv.Stats()
		if got.Requests != i+1 {
			t.Errorf("after answer %d (%s): %d requests counted", i+1, a.path, got.Requests)
		}
		_, m := e.do("GET", "/_emulator/stats", "", nil, "")
		if num(m["requests"]) != i+1 {
			t.Errorf("after answer %d (%s): /_emulator/stats says %v requests", i+1, a.path, m["requests"])
		}
	}
}
