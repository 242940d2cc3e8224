package main_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/scaletest"
	"github.com/vtsoar/vtsoar/vtsim"
)

// binary is the vtsoar binary built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vtsoar-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, err = scaletest.Build(context.Background(), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// emu is an emulator for one test.
type emu struct {
	sim      *vtsim.Server
	srv      *httptest.Server
	inflight sync.WaitGroup

	mu     sync.Mutex
	byPath map[string]int // requests by URL path
}

func newEmu(t *testing.T, opts vtsim.Options) *emu {
	t.Helper()
	e := &emu{sim: vtsim.MustNew(opts), byPath: map[string]int{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.inflight.Add(1)
		defer e.inflight.Done()
		e.mu.Lock()
		e.byPath[r.URL.Path]++
		e.mu.Unlock()
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// paths returns a copy of the request counts by URL path.
func (e *emu) paths() map[string]int {
	e.inflight.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.byPath))
	for k, v := range e.byPath {
		out[k] = v
	}
	return out
}

// stats reads /_emulator/stats once every request has been counted.
func (e *emu) stats(t *testing.T) vtsim.Stats {
	t.Helper()
	e.inflight.Wait()
	res, err := http.Get(e.srv.URL + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s vtsim.Stats
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// relCount asks the emulator directly how many objects a relationship holds.
func (e *emu) relCount(t *testing.T, col, id, rel string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v3/"+col+"/"+id+"/relationships/"+rel+"?limit=1", nil)
	req.Header.Set("x-apikey", "k")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Meta struct {
			Count int `json:"count"`
		} `json:"meta"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Meta.Count
}

type result struct {
	stdout, stderr string
	code           int
}

// envelope mirrors the JSON envelope of DESIGN.md.
type envelope struct {
	Command     string            `json:"command"`
	ReturnData  string            `json:"return_data"`
	KeyFields   map[string]any    `json:"key_fields"`
	ContextData []map[string]any  `json:"context_data"`
	RawData     []json.RawMessage `json:"raw_data"`
	Errors      []struct {
		Input            string `json:"input"`
		FailureIndicator string `json:"failure_indicator"`
		StatusCode       int    `json:"status_code"`
		Code             string `json:"code"`
		Message          string `json:"message"`
	} `json:"errors"`
}

// vtsoar runs the binary with a clean environment plus env, and stdin.
func vtsoar(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	home := t.TempDir()
	// A database of its own for each run, and no local request budget (the tests of
	// quota exhaustion use the emulator's).
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_DATA_HOME=" + filepath.Join(home, "data"),
		"VTSOAR_QUOTA=premium", "VTSOAR_MASTER_KEY="}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// run runs a command against the emulator with -o json and decodes the envelope.
func (e *emu) run(t *testing.T, key string, args ...string) (envelope, result) {
	t.Helper()
	return e.runIn(t, key, "", args...)
}

func (e *emu) runIn(t *testing.T, key, stdin string, args ...string) (envelope, result) {
	t.Helper()
	env := []string{"VT_SERVER_URL=" + e.srv.URL}
	if key != "" {
		env = append(env, "VT_API_KEY="+key)
	}
	r := vtsoar(t, env, stdin, append([]string{"-o", "json", "--retries", "0"}, args...)...)
	var en envelope
	if r.code != 0 && r.code != 1 && r.code != 3 {
		t.Fatalf("vtsoar %v: exit %d\nstderr: %s", args, r.code, r.stderr)
	}
	if r.code == 0 || r.code == 1 || r.code == 3 {
		if err := json.Unmarshal([]byte(r.stdout), &en); err != nil {
			t.Fatalf("vtsoar %v: exit %d, output is not an envelope: %v\nstdout: %s\nstderr: %s", args, r.code, err, r.stdout, r.stderr)
		}
		checkShape(t, en, r)
	}
	return en, r
}

// checkShape asserts the envelope's invariants of DESIGN.md.
func checkShape(t *testing.T, en envelope, r result) {
	t.Helper()
	failed, skipped := 0, 0
	for _, c := range en.ContextData {
		switch c["status"] {
		case "error":
			failed++
		case "skipped":
			skipped++
		}
	}
	ok := len(en.ContextData) - failed - skipped
	if failed != len(en.Errors) || len(en.RawData) != ok {
		t.Errorf("%d failed entries, %d errors, %d raw for %d inputs (%d skipped)", failed, len(en.Errors), len(en.RawData), len(en.ContextData), skipped)
	}
	// Skipped inputs are neither successes nor failures.
	want, code := "Partially Successful", 3
	switch {
	case failed == 0:
		want, code = "Successful", 0
	case ok == 0:
		want, code = "Failed", 1
	}
	if en.ReturnData != want || r.code != code {
		t.Errorf("return_data %q exit %d, want %q exit %d", en.ReturnData, r.code, want, code)
	}
	for _, er := range en.Errors {
		if !strings.Contains(er.FailureIndicator, " failed.") || er.Code == "" || er.Message == "" {
			t.Errorf("incomplete error entry %+v", er)
		}
	}
}

// inputs are the inputs of the envelope's entries but the skipped ones: those sent.
func inputs(en envelope) []string {
	var out []string
	for _, c := range en.ContextData {
		if c["status"] == "skipped" {
			continue
		}
		s, _ := c["input"].(string)
		out = append(out, s)
	}
	return out
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func exists(id string) bool { h := sha256.Sum256([]byte(id)); return h[0] >= 0x10 }

func find(t *testing.T, seed string, pred func(string) bool) string {
	t.Helper()
	for i := range 100000 {
		if id := sha256Hex(fmt.Sprint(seed, i)); pred(id) {
			return id
		}
	}
	t.Fatal("nothing found")
	return ""
}

// findURL returns a URL that exists (or not) in the emulator's universe.
// findDomain returns the first public domain of seed the emulator has (want) or has
// not.
func findDomain(t *testing.T, seed string, want bool) string {
	t.Helper()
	for i := range 1000 {
		d := fmt.Sprintf("%s-%d.vtsoar.net", seed, i)
		if exists(d) == want {
			return d
		}
	}
	t.Fatal("no domain found")
	return ""
}

func findURL(t *testing.T, seed string, want bool) string {
	t.Helper()
	for i := range 1000 {
		u := fmt.Sprintf("https://%s.vtsoar.net/page/%d", seed, i)
		if exists(sha256Hex(u)) == want {
			return u
		}
	}
	t.Fatal("no URL found")
	return ""
}

const (
	eicarMD5    = "44d88612fea8a8f36de82e1278abb02f"
	eicarSHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
)

var fast = []string{"--poll-interval", "20ms", "--timeout", "10s"}

func TestCheckFileReputation(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	missing := find(t, "missing", func(id string) bool { return !exists(id) })
	in := []string{eicarMD5, missing, "xyz", strings.ToUpper(eicarSHA256), eicarMD5}
	en, _ := e.run(t, "k", append([]string{"check-file-reputation"}, in...)...)
	if got := inputs(en); strings.Join(got, ",") != strings.Join(in, ",") {
		t.Fatalf("context_data inputs %v, want %v in order", got, in)
	}
	if got := en.KeyFields["RiskLevels"]; fmt.Sprint(got) != "[High N/A N/A High High]" {
		t.Errorf("RiskLevels = %v", got)
	}
	c0 := en.ContextData[0]
	if c0["id"] != eicarSHA256 || c0["risk_level"] != "High" || c0["risk_level_code"] != 1.0 || !strings.Contains(c0["risk_reason"].(string), "High from 10") {
		t.Errorf("EICAR entry %v", c0)
	}
	if len(en.Errors) != 2 {
		t.Fatalf("errors %+v", en.Errors)
	}
	nf, bad := en.Errors[0], en.Errors[1]
	if nf.Input != missing || nf.StatusCode != 404 || nf.Code != "NotFoundError" || nf.Message != "File Not Found." || nf.FailureIndicator != "Check File Reputation failed." {
		t.Errorf("not found: %+v", nf)
	}
	if bad.Input != "xyz" || bad.StatusCode != 400 || !strings.HasPrefix(bad.Message, "Invalid Hash. ") {
		t.Errorf("invalid: %+v", bad)
	}
	if n := e.stats(t).ByEndpoint["GET /files/{id}"]; n != 2 {
		t.Errorf("GET /files/{id} sent %d times, want 2 (EICAR by md5 and sha256 once, the missing file once)", n)
	}
}

func TestCheckReputationOtherKinds(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	tests := []struct {
		cmd             string
		good, bad, gone string
		invalid, nf     string
	}{
		{"check-ip-reputation", "8.8.8.8", "999.1.1.1", "", "Invalid IP.", ""},
		{"check-url-reputation", "https://vtsoar.net/a", "not a url", findURL(t, "gone", false), "Invalid URL.", "URL Not Found."},
		{"check-domain-reputation", "vtsoar.net", "bad_domain!", findDomain(t, "gone", false), "Invalid Domain.", "Domain Not Found."},
	}
	for _, tt := range tests {
		args := []string{tt.cmd, tt.good, tt.bad}
		if tt.gone != "" {
			args = append(args, tt.gone)
		}
		en, _ := e.run(t, "k", args...)
		if en.ContextData[0]["status"] != "ok" || en.ContextData[0]["risk_level"] == nil {
			t.Errorf("%s %s: %v", tt.cmd, tt.good, en.ContextData[0])
		}
		if en.Errors[0].StatusCode != 400 || !strings.HasPrefix(en.Errors[0].Message, tt.invalid) {
			t.Errorf("%s %s: %+v", tt.cmd, tt.bad, en.Errors[0])
		}
		if tt.gone != "" && (en.Errors[1].StatusCode != 404 || en.Errors[1].Message != tt.nf) {
			t.Errorf("%s %s: %+v", tt.cmd, tt.gone, en.Errors[1])
		}
		if len(en.KeyFields["RiskLevels"].([]any)) != len(args)-1 {
			t.Errorf("%s: RiskLevels %v", tt.cmd, en.KeyFields["RiskLevels"])
		}
	}
}

func TestGetReports(t *testing.T) {
	e := newEmu(t, vtsim.Options{AnalysisTime: 60 * time.Millisecond})
	for _, tc := range []struct{ cmd, in string }{
		{"get-file-reports", eicarMD5}, {"get-ip-reports", "2606:4700::1111"},
		{"get-url-reports", "hxxps://vtsoar[.]net/report"}, {"get-domain-reports", "Vtsoar.NET"},
	} {
		args := []string{tc.cmd, tc.in}
		if tc.cmd == "get-url-reports" {
			args = append(args, fast...)
		}
		en, _ := e.run(t, "k", args...)
		ids := en.KeyFields["IDs"].([]any)
		stats := en.KeyFields["LastAnalysisStats"].([]any)
		if len(ids) != 1 || ids[0] == "" || stats[0] == nil {
			t.Errorf("%s: key_fields %v", tc.cmd, en.KeyFields)
		}
		var raw struct {
			Data struct{ ID, Type string } `json:"data"`
		}
		if err := json.Unmarshal(en.RawData[0], &raw); err != nil || raw.Data.ID != ids[0] {
			t.Errorf("%s: raw_data %s is not VirusTotal's report of %v", tc.cmd, en.RawData[0], ids[0])
		}
	}

	// A URL VirusTotal never saw: submitted, followed, reported; unless --no-submit.
	url := findURL(t, "fresh", false)
	posted := e.stats(t).ByEndpoint["POST /urls"]
	en, _ := e.run(t, "k", append([]string{"get-url-reports", "--no-submit", url}, fast...)...)
	if en.Errors[0].StatusCode != 404 || en.Errors[0].Message != "URL Not Found." {
		t.Errorf("--no-submit: %+v", en.Errors)
	}
	if n := e.stats(t).ByEndpoint["POST /urls"]; n != posted {
		t.Errorf("--no-submit posted %d URLs", n-posted)
	}
	en, _ = e.run(t, "k", append([]string{"get-url-reports", url, url}, fast...)...)
	c := en.ContextData[0]
	if c["status"] != "ok" || c["submitted"] != true || c["analysis_id"] == "" || c["last_analysis_stats"] == nil {
		t.Errorf("unknown URL not submitted and reported: %v", c)
	}
	if n := e.stats(t).ByEndpoint["POST /urls"]; n != posted+1 {
		t.Errorf("POST /urls sent %d times for one URL given twice, want 1", n-posted)
	}
}

func TestGetRelationships(t *testing.T) {
	e := newEmu(t, vtsim.Options{PremiumKeys: []string{"premium-key"}})
	// A file with more than 40 contacted domains needs two pages for --limit 44.
	var file string
	for i := range 500 {
		id := sha256Hex(fmt.Sprint("rel", i))
		if exists(id) && e.relCount(t, "files", id, "contacted_domains") > 40 {
			file = id
			break
		}
	}
	if file == "" {
		t.Fatal("no file with more than 40 contacted domains in 200 tries")
	}
	before := e.stats(t).ByEndpoint
	en, _ := e.run(t, "k", "get-file-relationships", "--relationship", "Contacted_Domains", "--limit", "44", file, strings.ToUpper(file))
	after := e.stats(t).ByEndpoint
	c := en.ContextData[0]
	if c["relationship"] != "contacted_domains" || c["count"].(float64) <= 40 || c["pages"].(float64) != 2 {
		t.Errorf("paged relationship: %v", c)
	}
	if got := after["GET /files/{id}/{relationship}"] - before["GET /files/{id}/{relationship}"]; got != 2 {
		t.Errorf("%d relationship pages fetched for one file given twice, want 2", got)
	}
	related := en.KeyFields["RelatedIDs"].([]any)
	if len(related) != 2 || len(related[0].([]any)) != int(c["count"].(float64)) {
		t.Errorf("RelatedIDs %v", related)
	}
	var raw struct {
		Data []struct {
			Type       string          `json:"type"`
			Attributes json.RawMessage `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(en.RawData[0], &raw); err != nil || len(raw.Data) != int(c["count"].(float64)) || raw.Data[0].Type != "domain" || len(raw.Data[0].Attributes) < 10 {
		t.Errorf("raw_data does not hold the full related objects: %v", err)
	}

	// Premium-only: refused clearly on a public key, served on a premium one.
	en, _ = e.run(t, "public-key", "get-file-relationships", "-r", "similar_files", eicarSHA256)
	if er := en.Errors[0]; er.StatusCode != 403 || er.Code != "ForbiddenError" || !strings.Contains(er.Message, "premium") || er.FailureIndicator != "Get File Relationships failed." {
		t.Errorf("premium-only on a public key: %+v", er)
	}
	en, _ = e.run(t, "premium-key", "get-file-relationships", "-r", "similar_files", eicarSHA256)
	if en.ReturnData != "Successful" {
		t.Errorf("premium-only on a premium key: %+v", en.Errors)
	}

	// Every relationship command; a name of another object type is refused before any
	// request, with exit code 2.
	for _, tc := range []struct{ cmd, rel, in string }{
		{"get-ip-relationships", "resolutions", "8.8.8.8"},
		{"get-url-relationships", "network_location", "https://vtsoar.net/"},
		{"get-domain-relationships", "subdomains", "vtsoar.net"},
	} {
		en, _ := e.run(t, "k", tc.cmd, "-r", tc.rel, tc.in, "not valid at all")
		if en.ContextData[0]["status"] != "ok" || en.Errors[0].StatusCode != 400 {
			t.Errorf("%s: %v %+v", tc.cmd, en.ContextData[0], en.Errors)
		}
	}
	n := e.stats(t).Requests
	r := vtsoar(t, []string{"VT_API_KEY=k", "VT_SERVER_URL=" + e.srv.URL}, "", "get-ip-relationships", "-r", "contacted_domains", "8.8.8.8")
	if r.code != 2 || !strings.Contains(r.stderr, "not a relationship of ip_addresses") {
		t.Errorf("wrong relationship: exit %d, stderr %s", r.code, r.stderr)
	}
	if e.stats(t).Requests != n {
		t.Error("a request was sent for a wrong relationship name")
	}
	// --help names the premium-only relationships, under their heading.
	for cmd, names := range map[string][]string{
		"get-domain-relationships": {"downloaded_files", "caa_records", "mx_records", "soa_records", "related_threat_actors"},
		"get-url-relationships":    {"communicating_files", "contacted_domains", "contacted_ips", "referrer_files", "referrer_urls", "embedded_js_files"},
		"get-file-relationships":   {"compressed_parents", "related_references", "similar_files"},
	} {
		h := vtsoar(t, nil, "", cmd, "--help")
		_, premium, ok := strings.Cut(h.stdout, "Premium-only")
		premium, _, _ = strings.Cut(premium, "Deprecated")
		for _, n := range names {
			if !ok || !strings.Contains(premium, n) {
				t.Errorf("%s --help does not list %s as premium-only:\n%s", cmd, n, h.stdout)
			}
		}
	}
}

// On a public budget a premium-only relationship is refused before anything is sent:
// exit 2, a message that says why and what to do, and no request in the emulator's
// stats; a public one still runs.
func TestPremiumRelationshipRefusedOnAPublicBudget(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	env := []string{"VT_API_KEY=k", "VT_SERVER_URL=" + e.srv.URL, "VTSOAR_QUOTA=public"}
	for _, tc := range []struct{ cmd, rel, in string }{
		{"get-url-relationships", "contacted_domains", "https://vtsoar.net/"},
		{"get-domain-relationships", "MX_Records", "vtsoar.net"},
		{"get-file-relationships", "compressed_parents", eicarSHA256},
		{"get-ip-relationships", "related_threat_actors", "8.8.8.8"},
	} {
		before := e.stats(t).Requests
		r := vtsoar(t, env, "", "-o", "json", tc.cmd, "-r", tc.rel, tc.in)
		if r.code != 2 || !strings.Contains(r.stderr, "premium-only relationship") || !strings.Contains(r.stderr, "--quota premium") {
			t.Errorf("%s -r %s on a public budget: exit %d\nstderr: %s", tc.cmd, tc.rel, r.code, r.stderr)
		}
		if n := e.stats(t).Requests - before; n != 0 {
			t.Errorf("%s -r %s: %d requests sent to the emulator", tc.cmd, tc.rel, n)
		}
	}
	before := e.stats(t).Requests
	r := vtsoar(t, env, "", "-o", "json", "get-url-relationships", "-r", "network_location", "https://vtsoar.net/")
	if r.code != 0 || e.stats(t).Requests == before {
		t.Errorf("a public relationship on a public budget: exit %d\n%s", r.code, r.stderr)
	}
}

func TestBehaviorSummaries(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	missing := find(t, "beh", func(id string) bool { return !exists(id) })
	en, _ := e.run(t, "k", "get-file-behavior-summaries", eicarSHA256, missing)
	if en.ContextData[0]["status"] != "ok" || en.ContextData[0]["verdicts"] == nil {
		t.Errorf("behaviour: %v", en.ContextData[0])
	}
	if en.Errors[0].StatusCode != 404 || en.Errors[0].Message != "File Hash Not Found." || en.Errors[0].FailureIndicator != "Get File Behavior Summaries failed." {
		t.Errorf("behaviour not found: %+v", en.Errors)
	}
}

func TestDetonateFiles(t *testing.T) {
	e := newEmu(t, vtsim.Options{AnalysisTime: 60 * time.Millisecond})
	dir := t.TempDir()
	// Content VirusTotal does not know (its sha256 is "not found" in the universe),
	// and content it knows.
	var unknown, known []byte
	for i := 0; unknown == nil || known == nil; i++ {
		b := []byte(fmt.Sprintf("sample %d\n", i))
		if exists(sha256Hex(string(b))) {
			if known == nil {
				known = b
			}
		} else if unknown == nil {
			unknown = b
		}
	}
	newPath := filepath.Join(dir, "new.bin")
	copyPath := filepath.Join(dir, "copy.bin")
	knownPath := filepath.Join(dir, "known.bin")
	for p, b := range map[string][]byte{newPath: unknown, copyPath: unknown, knownPath: known} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.bin")
	en, _ := e.run(t, "k", append([]string{"detonate-files", newPath, knownPath, missing, copyPath}, fast...)...)
	c := en.ContextData
	if c[0]["status"] != "ok" || c[0]["uploaded"] != true || c[0]["analysis_id"] == "" || c[0]["id"] != sha256Hex(string(unknown)) || c[0]["risk_level"] == nil {
		t.Errorf("new file: %v", c[0])
	}
	if c[1]["status"] != "ok" || c[1]["uploaded"] != false {
		t.Errorf("known file: %v", c[1])
	}
	if c[3]["id"] != c[0]["id"] || c[3]["status"] != "ok" {
		t.Errorf("copy of the new file: %v", c[3])
	}
	if en.Errors[0].Input != missing || en.Errors[0].StatusCode != 404 || !strings.Contains(en.Errors[0].Message, "No such file") {
		t.Errorf("missing file: %+v", en.Errors)
	}
	s := e.stats(t)
	if s.ByEndpoint["POST /files"] != 1 {
		t.Errorf("POST /files sent %d times, want 1 (the known file and the copy are not uploaded)", s.ByEndpoint["POST /files"])
	}
	en, _ = e.run(t, "k", append([]string{"detonate-files", "--rescan", knownPath}, fast...)...)
	if en.ContextData[0]["rescanned"] != true || e.stats(t).ByEndpoint["POST /files/{id}/analyse"] != 1 {
		t.Errorf("--rescan: %v", en.ContextData[0])
	}
}

func TestScanURL(t *testing.T) {
	e := newEmu(t, vtsim.Options{AnalysisTime: 60 * time.Millisecond})
	en, _ := e.run(t, "k", "scan-url", "https://vtsoar.net/scan", "ftp//broken")
	if id, _ := en.ContextData[0]["analysis_id"].(string); id == "" || en.KeyFields["AnalysisIDs"].([]any)[0] != id {
		t.Errorf("scan-url: %v %v", en.ContextData[0], en.KeyFields)
	}
	if en.Errors[0].StatusCode != 400 || !strings.HasPrefix(en.Errors[0].Message, "Invalid URL.") {
		t.Errorf("invalid URL: %+v", en.Errors)
	}
	en, _ = e.run(t, "k", append([]string{"scan-url", "--wait", "https://vtsoar.net/scan"}, fast...)...)
	c := en.ContextData[0]
	if c["analysis_status"] != "completed" || c["stats"] == nil || c["risk_level"] == "" {
		t.Errorf("scan-url --wait: %v", c)
	}
}

func TestSearch(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	en, _ := e.run(t, "k", "search", eicarMD5, "vtsoar[.]net", "ransomware", "  ")
	if en.ContextData[0]["count"] != 1.0 || en.KeyFields["ResultIDs"].([]any)[0].([]any)[0] != eicarSHA256 {
		t.Errorf("search by hash: %v %v", en.ContextData[0], en.KeyFields)
	}
	if en.ContextData[1]["query"] != "vtsoar.net" {
		t.Errorf("defanged query not normalised: %v", en.ContextData[1])
	}
	if en.ContextData[2]["status"] != "ok" {
		t.Errorf("tag search: %v", en.ContextData[2])
	}
	if en.Errors[0].StatusCode != 400 || en.Errors[0].FailureIndicator != "Search failed." {
		t.Errorf("empty query: %+v", en.Errors)
	}
}

func TestRetrieveWidget(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	dir := t.TempDir()
	url := findURL(t, "widget", true) + "?b=c&d=../../etc"
	for exists(sha256Hex(url)) == false {
		url += "x"
	}
	en, _ := e.run(t, "k", "retrieve-widget-html-content", "--out-dir", dir, eicarMD5, url, findDomain(t, "widget-gone", false), "%%%")
	for i := range 2 {
		c := en.ContextData[i]
		p, _ := c["path"].(string)
		if filepath.Dir(p) != dir {
			t.Errorf("widget %d written outside --out-dir: %q", i, p)
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("<html")) {
			t.Errorf("widget %d: %v", i, err)
		}
		if r, _ := c["detection_ratio"].(string); !strings.Contains(r, "/") {
			t.Errorf("widget %d detection ratio %v", i, c["detection_ratio"])
		}
	}
	if en.Errors[0].StatusCode != 404 || en.Errors[1].StatusCode != 400 {
		t.Errorf("widget errors: %+v", en.Errors)
	}
}

func TestTestConnection(t *testing.T) {
	e := newEmu(t, vtsim.Options{QuotaDay: 500})
	en, r := e.run(t, "secret-key-123", "test-connection")
	if en.ReturnData != "Successful" || en.KeyFields["Connected"] != true || en.KeyFields["QuotaLeft"] == nil {
		t.Errorf("test-connection: %s", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, "secret-key-123") {
		t.Error("the API key appears in the output")
	}
	en, r = e.run(t, "bad-key", "test-connection")
	if r.code != 1 || en.Errors[0].StatusCode != 401 || en.Errors[0].Code != "WrongCredentialsError" || en.Errors[0].FailureIndicator != "Test Connection failed. Failed to check the connector." {
		t.Errorf("wrong key: exit %d %+v", r.code, en.Errors)
	}
	if r := vtsoar(t, []string{"VT_API_KEY=k", "VT_SERVER_URL=" + e.srv.URL}, "", "-o", "table", "test-connection"); r.code != 0 || !strings.Contains(r.stdout, "quota left: hourly ") {
		t.Errorf("table: exit %d\n%s", r.code, r.stdout)
	}
}

func TestQuotaAndTransientFailures(t *testing.T) {
	e := newEmu(t, vtsim.Options{QuotaDay: 2})
	var in []string
	for i := range 4 {
		in = append(in, find(t, fmt.Sprint("q", i), exists))
	}
	// All four in flight at once: the two the emulator refuses are not held by the
	// local budget's wait after a 429 (that is the quota package's concern).
	en, _ := e.run(t, "k", append([]string{"check-file-reputation", "--concurrency", "4"}, in...)...)
	if len(en.RawData) != 2 || len(en.Errors) != 2 {
		t.Fatalf("quota: %d answered, %d errors; want the 2 answered kept", len(en.RawData), len(en.Errors))
	}
	for _, er := range en.Errors {
		if er.StatusCode != 429 || er.Code != "QuotaExceededError" {
			t.Errorf("quota error %+v", er)
		}
	}

	flaky := newEmu(t, vtsim.Options{FailRate: 1})
	en, r := flaky.run(t, "k", "get-domain-reports", "vtsoar.net", "vtsoar.org")
	if r.code != 1 || en.Errors[0].StatusCode != 503 || en.Errors[0].Code != "TransientError" || en.Errors[0].FailureIndicator != "Get Domain Reports failed." {
		t.Errorf("transient: exit %d %+v", r.code, en.Errors)
	}

	srv := httptest.NewServer(http.NotFoundHandler())
	down := srv.URL
	srv.Close()
	r = vtsoar(t, []string{"VT_API_KEY=k"}, "", "-o", "json", "--retries", "0", "--server-url", down, "check-ip-reputation", "1.1.1.1")
	var env envelope
	if err := json.Unmarshal([]byte(r.stdout), &env); err != nil || r.code != 1 || env.Errors[0].Code != "ConnectionError" {
		t.Errorf("server down: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// VirusTotal's daily quota runs out mid-run: the input refused is retried once the
// (shortened) minute hold ends, is refused again, and from then on the day counts as
// spent: that input and the remaining ones fail at once with 429 QuotaExceededError
// and the reset time, instead of each holding a minute; the answered ones are kept.
func TestSpentDailyQuotaFailsTheRestAtOnce(t *testing.T) {
	e := newEmu(t, vtsim.Options{QuotaDay: 3})
	var in []string
	for i := range 8 {
		in = append(in, find(t, fmt.Sprint("day", i), exists))
	}
	env := []string{"VT_SERVER_URL=" + e.srv.URL, "VT_API_KEY=k", "VTSOAR_QUOTA_WINDOW=1s", "VTSOAR_QUOTA_MARGIN=100ms"}
	start := time.Now()
	r := vtsoar(t, env, "", append([]string{"-o", "json", "--retries", "3", "--concurrency", "1", "check-file-reputation"}, in...)...)
	took := time.Since(start)
	var en envelope
	if err := json.Unmarshal([]byte(r.stdout), &en); err != nil || r.code != 3 { // partially successful
		t.Fatalf("exit %d, %v\nstdout: %s\nstderr: %s", r.code, err, r.stdout, r.stderr)
	}
	checkShape(t, en, r)
	if len(en.RawData) != 3 || len(en.Errors) != 5 {
		t.Fatalf("%d answered, %d errors; want the 3 answered kept and 5 errors", len(en.RawData), len(en.Errors))
	}
	reset := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour).Format(time.RFC3339)
	for _, er := range en.Errors {
		if er.StatusCode != 429 || er.Code != "QuotaExceededError" || !strings.Contains(er.Message, reset) {
			t.Errorf("error %+v: want 429 QuotaExceededError with the reset %s", er, reset)
		}
	}
	// VirusTotal saw the refused input twice (first try and the retry after the hold)
	// and none of the others: they failed without asking.
	st := e.stats(t)
	if st.ByStatus["429"] != 2 || st.ByStatus["200"] != 3 {
		t.Errorf("emulator answers %v, want three 200 and two 429", st.ByStatus)
	}
	t.Logf("8 inputs, daily quota spent after 3: %v", took)
	if took > 30*time.Second {
		t.Errorf("the run took %v: the remaining inputs waited", took)
	}
}

func TestInputsOutputsAndUsage(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	stdin := "# hashes from the incident\n\n" + eicarMD5 + "\n  8.8.8.8  \n# end\n"
	en, _ := e.runIn(t, "k", stdin, "check-file-reputation", "-", "extra-arg-not-a-hash")
	if got := inputs(en); strings.Join(got, ",") != eicarMD5+",8.8.8.8,extra-arg-not-a-hash" {
		t.Errorf("inputs from stdin: %v", got)
	}

	env := []string{"VT_SERVER_URL=" + e.srv.URL, "VT_API_KEY=k"}
	r := vtsoar(t, env, "", "-o", "jsonl", "check-ip-reputation", "8.8.8.8", "1.2.3")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 3 || len(lines) != 2 {
		t.Fatalf("jsonl: exit %d, %d lines:\n%s", r.code, len(lines), r.stdout)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["input"] == nil {
			t.Errorf("jsonl line %q: %v", l, err)
		}
	}

	r = vtsoar(t, env, "", "-o", "csv", "check-ip-reputation", "8.8.8.8")
	if !strings.HasPrefix(r.stdout, "input,status,type,id,risk_level,risk_level_code,risk_reason,error") || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("csv:\n%s", r.stdout)
	}
	r = vtsoar(t, env, "", "-o", "yaml", "check-ip-reputation", "8.8.8.8")
	if !strings.HasPrefix(r.stdout, "command: check-ip-reputation\nreturn_data: Successful\n") {
		t.Errorf("yaml:\n%s", r.stdout)
	}
	r = vtsoar(t, env, "", "check-ip-reputation", "8.8.8.8")
	if !strings.HasPrefix(r.stdout, "{") {
		t.Errorf("default output off a terminal is not JSON:\n%s", r.stdout)
	}
	r = vtsoar(t, env, "", "-o", "table", "check-file-reputation", eicarMD5)
	if !strings.Contains(r.stdout, "High") || strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("table off a terminal must hold the level without colour:\n%q", r.stdout)
	}

	usage := []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"check-file-reputation", eicarMD5}, "VT_API_KEY"},
		{env, []string{"--api-version", "v2", "check-file-reputation", eicarMD5}, "v3"},
		{append(env, "VT_API_VERSION=v1"), []string{"check-file-reputation", eicarMD5}, "v3"},
		{env, []string{"no-such-command"}, "unknown command"},
		{env, []string{"check-file-reputation", "--bogus", eicarMD5}, "bogus"},
		{env, []string{"check-file-reputation"}, "needs inputs"},
		{env, []string{"-o", "xml", "check-file-reputation", eicarMD5}, "xml"},
		{env, []string{"test-connection", "extra"}, "takes no inputs"},
	}
	for _, u := range usage {
		r := vtsoar(t, u.env, "", u.args...)
		if r.code != 2 || !strings.Contains(r.stderr, u.want) {
			t.Errorf("vtsoar %v: exit %d, stderr %q; want 2 and %q", u.args, r.code, r.stderr, u.want)
		}
	}
	if r := vtsoar(t, nil, "", "check-file-reputation", eicarMD5); !strings.Contains(r.stderr, "vtsoar emulate") {
		t.Errorf("no key: the message does not point at the emulator: %s", r.stderr)
	}
	if r := vtsoar(t, nil, "", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "vtsoar ") {
		t.Errorf("version: %d %q", r.code, r.stdout)
	}
}

// failMix is the mix of the failures a retry gets past: 25% of the requests fail, as
// VirusTotal (503, 504, 429 TooManyRequestsError) or a proxy (an HTML 502) answers.
var failMix = vtsim.FailMix{vtsim.Fault503: 0.1, vtsim.Fault504: 0.05, vtsim.Fault429: 0.05, vtsim.Fault502HTML: 0.05}

// The CLI under the failure mix: every command ends Successful within its
// bounded retries, nothing is lost (every input answered, in order), and no failure
// is cached: inputs that failed with no retries are asked again on the next run,
// those that succeeded are answered from the cache.
func TestFailureMixEndToEnd(t *testing.T) {
	e := newEmu(t, vtsim.Options{FailMix: failMix, Seed: 12, PremiumKeys: []string{"k"}})
	db := filepath.Join(t.TempDir(), "vtsoar.db")
	env := []string{"VT_API_KEY=k", "VT_SERVER_URL=" + e.srv.URL, "VTSOAR_DB=" + db}
	run := func(retries int, args ...string) (envelope, result) {
		t.Helper()
		r := vtsoar(t, env, "", append([]string{"-o", "json", "--retries", fmt.Sprint(retries)}, args...)...)
		var en envelope
		if err := json.Unmarshal([]byte(r.stdout), &en); err != nil {
			t.Fatalf("vtsoar %v: exit %d, not an envelope: %v\n%s", args, r.code, err, r.stderr)
		}
		checkShape(t, en, r)
		return en, r
	}
	var files, domains, ips []string
	for i := range 30 {
		files = append(files, find(t, fmt.Sprint("mix-file-", i), exists))
	}
	for i := 0; len(domains) < 10; i++ {
		if d := fmt.Sprintf("mix%d.vtsoar.net", i); exists(d) {
			domains = append(domains, d)
		}
	}
	for i := 0; len(ips) < 10; i++ {
		if ip := fmt.Sprintf("45.61.136.%d", 10+i); exists(ip) {
			ips = append(ips, ip)
		}
	}
	commands := [][]string{
		append([]string{"check-file-reputation"}, files...),
		append([]string{"get-domain-reports"}, domains...),
		append([]string{"check-ip-reputation"}, ips...),
		{"get-domain-relationships", "-r", "subdomains", "--limit", "5", "vtsoar.net", "vtsoar.org"},
		{"get-file-relationships", "-r", "similar_files", "--limit", "5", eicarSHA256},
		{"search", "ransomware", "phishing kit"},
		{"test-connection"},
	}
	const retries = 8
	inputs := 0
	for _, args := range commands {
		en, r := run(retries, args...)
		want := max(1, len(args)-1)
		if args[0] == "get-domain-relationships" || args[0] == "get-file-relationships" {
			want = len(args) - 5
		}
		if en.ReturnData != "Successful" || r.code != 0 || len(en.ContextData) != want {
			t.Errorf("%s under the failure mix: %s, exit %d, %d of %d inputs\nerrors: %+v", args[0], en.ReturnData, r.code,
				len(en.ContextData), want, en.Errors)
		}
		inputs += want
	}
	st := e.stats(t)
	failed := 0
	for _, n := range st.ByFault {
		failed += n
	}
	if failed == 0 || st.ByFault["502html"] == 0 || st.ByFault["429"] == 0 || st.ByFault["504"] == 0 || st.ByFault["503"] == 0 {
		t.Errorf("the mix injected %v: the test proves nothing", st.ByFault)
	}
	t.Logf("%d commands, %d inputs, all Successful with --retries %d: %d requests, %d failures injected %v (each retried), by status %v, results lost 0",
		len(commands), inputs, retries, st.Requests, failed, st.ByFault, st.ByStatus)

	// No failure is cached. With no retries some inputs fail; the next run asks
	// VirusTotal again for exactly those, and answers the others from the cache.
	var fresh []string
	for i := range 40 {
		fresh = append(fresh, find(t, fmt.Sprint("mix-cache-", i), exists))
	}
	en, _ := run(0, append([]string{"check-file-reputation"}, fresh...)...)
	failedInputs := map[string]bool{}
	for _, er := range en.Errors {
		failedInputs[er.Input] = true
	}
	if len(failedInputs) == 0 || len(failedInputs) == len(fresh) {
		t.Fatalf("%d of %d inputs failed with no retries: the check below proves nothing", len(failedInputs), len(fresh))
	}
	before := e.paths()
	en, r := run(retries, append([]string{"check-file-reputation"}, fresh...)...)
	if en.ReturnData != "Successful" || r.code != 0 {
		t.Errorf("second run: %s %+v", en.ReturnData, en.Errors)
	}
	after := e.paths()
	for _, h := range fresh {
		asked := after["/api/v3/files/"+h] - before["/api/v3/files/"+h]
		switch {
		case failedInputs[h] && asked == 0:
			t.Errorf("%s failed on the first run and was answered from the cache on the second", h[:12])
		case !failedInputs[h] && asked != 0:
			t.Errorf("%s was answered on the first run and asked again (%d requests)", h[:12], asked)
		}
	}
	t.Logf("no retries: %d of %d inputs failed; the next run asked again for those %d only", len(failedInputs), len(fresh), len(failedInputs))
}

// raw_data is VirusTotal's answer byte for byte, from VirusTotal and from the cache,
// with -o json and over jsonl's envelope-less stream alike: a real report (indented,
// with characters encoding/json would escape) comes out as the emulator served it.
func TestRawDataIsVirusTotalsAnswerByteForByte(t *testing.T) {
	const file = "file_report_pdf.json"
	want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vt", file))
	if err != nil {
		t.Fatalf("the real report %s: %v", file, err)
	}
	want = bytes.TrimSpace(want)
	var doc struct {
		Data struct{ ID string } `json:"data"`
	}
	if err := json.Unmarshal(want, &doc); err != nil || doc.Data.ID == "" {
		t.Fatalf("%s: %v", file, err)
	}
	e := newEmu(t, vtsim.Options{DataDir: filepath.Join("..", "..", "testdata", "vt")})
	db := filepath.Join(t.TempDir(), "vtsoar.db")
	for _, run := range []string{"from VirusTotal", "from the cache"} {
		en, r := e.run(t, "k", "--db", db, "check-file-reputation", doc.Data.ID)
		if r.code != 0 || len(en.RawData) != 1 {
			t.Fatalf("%s: exit %d, %d raw answers\n%s", run, r.code, len(en.RawData), r.stderr)
		}
		if !bytes.Equal(en.RawData[0], want) {
			t.Errorf("%s: raw_data differs from the emulator's answer (%d bytes, want %d)", run, len(en.RawData[0]), len(want))
		}
		if cached := en.ContextData[0]["cached"] == true; cached != (run == "from the cache") {
			t.Errorf("%s: context cached = %v", run, en.ContextData[0]["cached"])
		}
	}
}

// TestPrivateInputsAreNotSent: a private address costs no request and no unit of the
// budget, and keeps its place in the envelope; --include-private sends it.
func TestPrivateInputsAreNotSent(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	// A budget of one request a day: the run succeeds only if the skipped inputs
	// spend none.
	en, r := e.run(t, "k", "--quota", "1/day", "check-ip-reputation", "127.0.0.1", "10.1.2.3", "8.8.8.8")
	if r.code != 0 || en.ReturnData != "Successful" {
		t.Fatalf("exit %d, %s: %s", r.code, en.ReturnData, r.stderr)
	}
	if n := e.stats(t).Requests; n != 1 {
		t.Errorf("%d requests, want 1 (8.8.8.8 only)", n)
	}
	var statuses []string
	for _, c := range en.ContextData {
		statuses = append(statuses, fmt.Sprint(c["input"], " ", c["status"], " ", c["risk_level"], " ", c["skip_reason"]))
	}
	want := []string{"127.0.0.1 skipped N/A loopback address", "10.1.2.3 skipped N/A private address (RFC 1918)"}
	if len(statuses) != 3 || statuses[0] != want[0] || statuses[1] != want[1] || en.ContextData[2]["status"] != "ok" {
		t.Errorf("entries:\n%s", strings.Join(statuses, "\n"))
	}
	if levels := en.KeyFields["RiskLevels"].([]any); len(levels) != 3 || levels[0] != "N/A" || levels[1] != "N/A" {
		t.Errorf("RiskLevels %v", levels)
	}
	var sk struct {
		Skipped []struct {
			Index          int
			Input, Include string
		} `json:"skipped"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sk); err != nil || len(sk.Skipped) != 2 || sk.Skipped[1].Index != 1 ||
		sk.Skipped[1].Input != "10.1.2.3" || sk.Skipped[1].Include != "include_private" {
		t.Errorf("skipped %+v (%v)", sk.Skipped, err)
	}
	// The table says so.
	r = vtsoar(t, []string{"VT_SERVER_URL=" + e.srv.URL, "VT_API_KEY=k"}, "", "-o", "table", "check-ip-reputation", "10.1.2.3", "8.8.8.8")
	if !strings.Contains(r.stdout, "not sent: private address (RFC 1918)") || !strings.Contains(r.stdout, "1 skipped (nothing sent)") ||
		!strings.Contains(r.stdout, "--include-private") {
		t.Errorf("table:\n%s", r.stdout)
	}
	// Asked for, they are sent.
	before := e.stats(t).Requests
	en, _ = e.run(t, "k", "--include-private", "check-ip-reputation", "127.0.0.1", "10.1.2.3", "8.8.8.8")
	if n := e.stats(t).Requests - before; n != 3 || len(inputs(en)) != 3 {
		t.Errorf("--include-private: %d requests, %d sent", n, len(inputs(en)))
	}
}
