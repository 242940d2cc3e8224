package main_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/vtsim"
)

// TestCommentsAndVotes: comments and votes on objects of every kind, read back; an
// invalid input, a missing object and a missing option in the integration's words.
func TestCommentsAndVotes(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	missing := find(t, "comment-missing", func(id string) bool { return !exists(id) })

	en, r := e.run(t, "k", "add-comment", "--comment", "Seen in INC-20417 #phishing #agenttesla",
		eicarMD5, "45.61.136.22", "hxxps://suppl1er-payments[.]com/invoice/view?id=7781", "suppl1er-payments.com", eicarMD5, missing, "not an observable")
	if r.code != 3 {
		t.Fatalf("add-comment: exit %d", r.code)
	}
	ids := en.KeyFields["CommentIDs"].([]any)
	for i := range 5 {
		if c := en.ContextData[i]; c["status"] != "ok" || ids[i] == nil || ids[i] == "" {
			t.Errorf("comment %d: %v", i, c)
		}
	}
	if c := en.ContextData[0]; strings.Join(asStrings(c["tags"]), ",") != "phishing,agenttesla" || c["text"] != "Seen in INC-20417 #phishing #agenttesla" {
		t.Errorf("posted comment %v", c)
	}
	if ids[0] != ids[4] {
		t.Errorf("EICAR given twice got two comments: %v %v", ids[0], ids[4])
	}
	if n := e.stats(t).ByEndpoint["POST /files/{id}/comments"]; n != 2 {
		t.Errorf("POST /files/{id}/comments sent %d times, want 2 (EICAR once, the missing file once)", n)
	}
	nf, bad := en.Errors[0], en.Errors[1]
	if nf.FailureIndicator != "Add Comment failed." || nf.StatusCode != 404 || nf.Message != "File Not Found." {
		t.Errorf("missing object: %+v", nf)
	}
	if bad.FailureIndicator != "Add Comment failed." || bad.StatusCode != 400 || !strings.HasPrefix(bad.Message, "Invalid Input.") {
		t.Errorf("invalid input: %+v", bad)
	}

	// Read back: the new comment is the newest.
	en, _ = e.run(t, "k", "get-comments", "--limit", "5", "45.61.136.22", "suppl1er-payments.com", missing)
	c0 := en.ContextData[0]
	comments := c0["comments"].([]any)
	if len(comments) == 0 || comments[0].(map[string]any)["text"] != "Seen in INC-20417 #phishing #agenttesla" || c0["type"] != "ip" {
		t.Errorf("comments on the IP: %v", c0)
	}
	if len(en.Errors) != 1 || en.Errors[0].FailureIndicator != "Get Comments failed." || en.Errors[0].Message != "File Not Found." {
		t.Errorf("get-comments errors %+v", en.Errors)
	}

	// Votes: cast, counted, read back.
	en, _ = e.run(t, "k", "get-votes", "evil-c2.net")
	before := en.ContextData[0]["vote_counts"].(map[string]any)
	en, _ = e.run(t, "k", "add-vote", "--verdict", "Malicious", "evil-c2.net", "45.61.136.22", missing)
	if en.ContextData[0]["verdict"] != "malicious" || en.ContextData[0]["vote_id"] == "" || en.Errors[0].FailureIndicator != "Add Vote failed." ||
		en.Errors[0].Message != "File Not Found." {
		t.Errorf("add-vote: %v %+v", en.ContextData[0], en.Errors)
	}
	en, _ = e.run(t, "k", "get-votes", "evil-c2.net")
	after := en.ContextData[0]["vote_counts"].(map[string]any)
	if after["malicious"].(float64) != before["malicious"].(float64)+1 || en.KeyFields["VoteCounts"] == nil {
		t.Errorf("malicious votes %v -> %v", before, after)
	}

	// A missing or bad option is a usage error: exit 2, nothing sent.
	sent := e.stats(t).Requests
	for _, args := range [][]string{
		{"add-comment", eicarMD5},
		{"add-comment", "--comment", "  ", eicarMD5},
		{"add-vote", eicarMD5},
		{"add-vote", "--verdict", "suspicious", eicarMD5},
		{"get-comments", "--comment", "x", eicarMD5},
	} {
		if r := vtsoar(t, []string{"VT_SERVER_URL=" + e.srv.URL, "VT_API_KEY=k"}, "", args...); r.code != 2 {
			t.Errorf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	if n := e.stats(t).Requests; n != sent {
		t.Errorf("usage errors sent %d requests", n-sent)
	}
}

func asStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestRescans(t *testing.T) {
	e := newEmu(t, vtsim.Options{AnalysisTime: 60 * time.Millisecond})
	missing := find(t, "rescan-missing", func(id string) bool { return !exists(id) })
	en, r := e.run(t, "k", "rescan-file", eicarMD5, strings.ToUpper(eicarMD5), missing, "xyz")
	if r.code != 3 {
		t.Fatalf("rescan-file: exit %d", r.code)
	}
	aids := en.KeyFields["AnalysisIDs"].([]any)
	if aids[0] == nil || aids[0] != aids[1] || en.ContextData[0]["risk_level"] != "N/A" {
		t.Errorf("rescan of EICAR given twice: %v", en.ContextData[:2])
	}
	if n := e.stats(t).ByEndpoint["POST /files/{id}/analyse"]; n != 2 {
		t.Errorf("POST /files/{id}/analyse sent %d times, want 2 (EICAR given twice once, the missing file)", n)
	}
	if en.Errors[0].FailureIndicator != "Rescan File failed." || en.Errors[0].Message != "File Not Found." ||
		en.Errors[1].StatusCode != 400 || !strings.HasPrefix(en.Errors[1].Message, "Invalid Hash.") {
		t.Errorf("errors %+v", en.Errors)
	}
	// --wait follows the analysis to its verdict.
	en, _ = e.run(t, "k", append([]string{"rescan-file", "--wait"}, append(fast, eicarSHA256)...)...)
	if c := en.ContextData[0]; c["analysis_status"] != "completed" || c["risk_level"] != "High" {
		t.Errorf("rescan --wait: %v", c)
	}
	gone := findURL(t, "rescan-gone", false)
	en, _ = e.run(t, "k", "rescan-url", "hxxps://suppl1er-payments[.]com/invoice/view?id=7781", gone, "not a url")
	if en.ContextData[0]["analysis_id"] == nil || en.Errors[0].FailureIndicator != "Rescan URL failed." || en.Errors[0].Message != "URL Not Found." ||
		!strings.HasPrefix(en.Errors[1].Message, "Invalid URL.") {
		t.Errorf("rescan-url: %v %+v", en.ContextData[0], en.Errors)
	}
}

// TestDownloadFileAndQuotas: download-file is premium-only: refused before anything is
// sent on a public budget, an error per input for a key VirusTotal refuses, the file
// (checked against its hash) on a premium key; get-quotas shows the key's quotas.
func TestDownloadFileAndQuotas(t *testing.T) {
	e := newEmu(t, vtsim.Options{PremiumKeys: []string{"premium-key"}})
	dir := t.TempDir()
	missing := find(t, "download-missing", func(id string) bool { return !exists(id) })
	env := []string{"VT_SERVER_URL=" + e.srv.URL, "VT_API_KEY=premium-key"}

	// The default (public) budget: nothing sent, exit 2.
	r := vtsoar(t, env, "", "--quota", "public", "download-file", "--out-dir", dir, eicarMD5)
	if r.code != 2 || !strings.Contains(r.stderr, "premium-only") || e.stats(t).Requests != 0 {
		t.Fatalf("public budget: exit %d, %d requests: %s", r.code, e.stats(t).Requests, r.stderr)
	}
	// No --out-dir: a usage error.
	if r := vtsoar(t, env, "", "download-file", eicarMD5); r.code != 2 || !strings.Contains(r.stderr, "--out-dir") {
		t.Errorf("no --out-dir: exit %d: %s", r.code, r.stderr)
	}

	en, r := e.run(t, "premium-key", "download-file", "--out-dir", dir, eicarMD5, missing, "xyz")
	if r.code != 3 {
		t.Fatalf("download-file: exit %d: %s", r.code, r.stderr)
	}
	c := en.ContextData[0]
	path, _ := c["path"].(string)
	b, err := os.ReadFile(path)
	if err != nil || filepath.Dir(path) != dir || filepath.Base(path) != eicarSHA256 {
		t.Fatalf("downloaded to %q: %v", path, err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != eicarSHA256 || c["size"].(float64) != float64(len(b)) {
		t.Errorf("the file is not EICAR: %d bytes", len(b))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("the sample is readable by others: %v", fi.Mode())
	}
	if en.Errors[0].FailureIndicator != "Download File failed." || en.Errors[0].Message != "File Not Found." ||
		en.Errors[1].StatusCode != 400 || !strings.HasPrefix(en.Errors[1].Message, "Invalid Hash.") {
		t.Errorf("errors %+v", en.Errors)
	}
	// A key VirusTotal takes for a public one, on a premium budget: 403 per input.
	en, _ = e.run(t, "public-key", "download-file", "--out-dir", dir, eicarSHA256)
	if er := en.Errors[0]; er.StatusCode != 403 || er.Code != "ForbiddenError" || !strings.Contains(er.Message, "premium-only") {
		t.Errorf("refused key: %+v", er)
	}
	// The size cap keeps nothing larger.
	en, _ = e.run(t, "premium-key", "download-file", "--out-dir", filepath.Join(dir, "small"), "--max-size", "10", eicarSHA256)
	if er := en.Errors[0]; er.Code != "TooLargeError" {
		t.Errorf("over the cap: %+v", en.Errors)
	}
	if files, _ := os.ReadDir(filepath.Join(dir, "small")); len(files) != 0 {
		t.Errorf("%d files left over the cap", len(files))
	}

	// get-quotas: the key's quotas, the downloads counted; no inputs; never the key.
	en, r = e.run(t, "premium-key", "get-quotas")
	q := en.ContextData[0]["quotas"].(map[string]any)
	if len(q) < 3 || q["api_requests_daily"] == nil || en.KeyFields["QuotaLeft"] == nil || strings.Contains(r.stdout, "premium-key") {
		t.Errorf("get-quotas: %v", en.ContextData[0])
	}
	if r := vtsoar(t, env, "", "get-quotas", "x"); r.code != 2 {
		t.Errorf("get-quotas with an input: exit %d", r.code)
	}
	if en, _ := e.run(t, "bad-key", "get-quotas"); en.Errors[0].FailureIndicator != "Get Quotas failed." || en.Errors[0].StatusCode != 401 {
		t.Errorf("bad key: %+v", en.Errors)
	}
}
