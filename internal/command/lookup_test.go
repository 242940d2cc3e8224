package command

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/vtsim"
)

func TestLookupRoutesEachKindToItsCheck(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	missing := findSHA256(t, "lookup-missing", func(id string) bool { return !exists(id) })
	in := []string{
		"44d88612fea8a8f36de82e1278abb02f", // EICAR, High
		"45.61.136(.)22",
		"hxxps://evil-login[.]net/index.php",
		"evil-c2.net",
		missing,
		"not an observable",
		strings.Repeat("a", 63), // a hash with a wrong length
		"evil-c2.net",           // a duplicate
	}
	env := e.run(t, Request{Command: "lookup", Inputs: in})
	if got := inputs(env); !slices.Equal(got, in) {
		t.Fatalf("context inputs %v, want %v", got, in)
	}
	wantTypes := []string{"file", "ip", "url", "domain", "file", "", "file", "domain"}
	if got := env.KeyFields["Kinds"]; mustJSON(t, got) != mustJSON(t, wantTypes) {
		t.Errorf("Kinds = %v, want %v", got, wantTypes)
	}
	checks := []string{"check-file-reputation", "check-ip-reputation", "check-url-reputation", "check-domain-reputation"}
	for i, c := range env.ContextData[:4] {
		if c.Status != StatusOK || c.Type != wantTypes[i] || c.Fields.(*ObjectFields).Check != checks[i] || c.RiskLevel == "" || c.RiskReason == "" {
			t.Errorf("entry %d: %+v", i, c)
		}
	}
	if env.ContextData[0].RiskLevel != "High" {
		t.Errorf("EICAR is %s", env.ContextData[0].RiskLevel)
	}
	if env.ReturnData != PartiallySuccessful || env.ExitCode() != 3 {
		t.Errorf("return_data %s", env.ReturnData)
	}
	if len(env.Errors) != 3 {
		t.Fatalf("errors %+v", env.Errors)
	}
	nf, bad, badHash := env.Errors[0], env.Errors[1], env.Errors[2]
	if nf.FailureIndicator != "Check File Reputation failed." || nf.StatusCode != 404 || nf.Message != "File Not Found." {
		t.Errorf("not found: %+v", nf)
	}
	if bad.FailureIndicator != "Lookup failed." || bad.StatusCode != 400 || !strings.HasPrefix(bad.Message, "Invalid Input. ") {
		t.Errorf("no observable: %+v", bad)
	}
	if badHash.FailureIndicator != "Check File Reputation failed." || !strings.HasPrefix(badHash.Message, "Invalid Hash. ") {
		t.Errorf("bad hash: %+v", badHash)
	}
	if got := env.ContextData[5]; got.RiskLevel != "N/A" || got.Error == "" {
		t.Errorf("failed entry %+v", got)
	}
	// One request per distinct object: the duplicate domain is answered by the same.
	if n := e.requests(""); n != 5 {
		t.Errorf("%d requests, want 5 (one per distinct object)", n)
	}
}

func TestLookupSkipsPrivateAndBenignUnlessAsked(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	in := []string{"10.0.0.5", "8.8.8.8", "www.microsoft.com", "http://192.168.1.1/admin", "printer.local",
		"https://docs.google.com/forms/d/x/viewform"}
	env := e.run(t, Request{Command: "lookup", Inputs: in})
	if got := inputs(env); !slices.Equal(got, []string{"8.8.8.8", "https://docs.google.com/forms/d/x/viewform"}) {
		t.Errorf("looked up %v", got)
	}
	want := []SkippedInput{
		{Input: "10.0.0.5", Type: "ip", Value: "10.0.0.5", Reason: "private address (RFC 1918)", Include: "include_private"},
		{Input: "www.microsoft.com", Type: "domain", Value: "www.microsoft.com", Reason: "well-known benign domain (microsoft.com)", Include: "include_benign"},
		{Input: "http://192.168.1.1/admin", Type: "url", Value: "http://192.168.1.1/admin", Reason: "URL on a private address (RFC 1918)", Include: "include_private"},
		{Input: "printer.local", Type: "domain", Value: "printer.local", Reason: "multicast DNS name of the local network (RFC 6762)", Include: "include_private"},
	}
	if got := skippedOf(t, env); !slices.Equal(got, want) {
		t.Errorf("skipped %+v\nwant %+v", got, want)
	}
	// Each keeps its place: one entry per input, in input order, and one risk level.
	if len(env.ContextData) != len(in) || len(env.KeyFields["RiskLevels"].([]string)) != len(in) {
		t.Errorf("%d entries, %v risk levels for %d inputs", len(env.ContextData), env.KeyFields["RiskLevels"], len(in))
	}
	if n := e.requests(""); n != 2 {
		t.Errorf("%d requests for 2 observables in scope", n)
	}

	env = e.run(t, withOptions(t, "lookup", in, map[string]any{"include_private": true, "include_benign": true}))
	if got := inputs(env); !slices.Equal(got, in) || len(env.Skipped) != 0 {
		t.Errorf("with include_private and include_benign: looked up %v, skipped %v", got, env.Skipped)
	}

	env = e.run(t, Request{Command: "lookup", Inputs: []string{"127.0.0.1", "www.microsoft.com"}})
	if env.ReturnData != Successful || len(env.ContextData) != 2 || len(env.Skipped) != 2 || len(env.Errors) != 0 || env.ExitCode() != 0 {
		t.Errorf("all skipped: %s, %d entries, %d skipped", env.ReturnData, len(env.ContextData), len(env.Skipped))
	}
}

const lookupIncident = `Subject: [EXT] Payment advice - please review
From: accounts[at]suppl1er-payments[.]com

Our mail gateway let this through at 09:41 UTC. The link hxxps://suppl1er-payments[.]com/invoice/view?id=7781
redirected to hxxp://185.220.101[.]4:8080/gate.php, which served the attachment
(md5 44d88612fea8a8f36de82e1278abb02f; the sandbox says sha256
275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f).
Beacons from 10.20.30.40 and 192.168.7.12 to 45.61.136(.)22:443 and suppl1er-payments(.)com.
Proxy log: dst=45.61.136.22 host=suppl1er-payments.com user=jdoe
Footer links: https://www.microsoft.com/en-us/privacy and www.linkedin.com; ticket INC-4471.
`

func TestLookupExtractsFromAnIncident(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	env := e.run(t, withOptions(t, "lookup", []string{lookupIncident}, map[string]any{"extract": true}))
	wantIn := []string{
		"hxxps://suppl1er-payments[.]com/invoice/view?id=7781",
		"hxxp://185.220.101[.]4:8080/gate.php",
		"44d88612fea8a8f36de82e1278abb02f",
		"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
		"45.61.136(.)22",
		"suppl1er-payments(.)com",
	}
	if got := inputs(env); !slices.Equal(got, wantIn) {
		t.Fatalf("looked up %q\nwant %q", got, wantIn)
	}
	if got := mustJSON(t, env.KeyFields["Kinds"]); got != `["url","url","file","file","ip","ip","ip","domain","url","domain"]` {
		t.Errorf("Kinds %s", got)
	}
	var reasons []string
	for _, s := range skippedOf(t, env) {
		reasons = append(reasons, s.Input+": "+s.Reason)
	}
	// The observables skipped with their entries, in input order, then what the
	// extraction left out.
	wantSkipped := []string{
		"10.20.30.40: private address (RFC 1918)",
		"192.168.7.12: private address (RFC 1918)",
		"https://www.microsoft.com/en-us/privacy: URL on a well-known benign domain (microsoft.com)",
		"www.linkedin.com: well-known benign domain (linkedin.com)",
		"accounts[at]suppl1er-payments[.]com: e-mail address (not an observable VirusTotal checks)",
	}
	if !slices.Equal(reasons, wantSkipped) {
		t.Errorf("skipped %q\nwant %q", reasons, wantSkipped)
	}
	// EICAR by md5 and by sha256 is one file: fetched once (sha256 first).
	if n := e.requests("GET /files/{id}"); n != 1 {
		t.Errorf("GET /files/{id} %d times, want 1", n)
	}
	if n := e.requests(""); n != 5 {
		t.Errorf("%d requests, want 5 (two URLs, one file, one IP, one domain)", n)
	}
	if env.ReturnData != Successful {
		t.Errorf("return_data %s: %+v", env.ReturnData, env.Errors)
	}
}

func TestLookupOptionsBelongToLookup(t *testing.T) {
	for _, req := range []Request{
		withOptions(t, "check-ip-reputation", []string{"8.8.8.8"}, map[string]any{"extract": true}),
		withOptions(t, "get-domain-reports", []string{"a.com"}, map[string]any{"include_benign": true}),
	} {
		var re *RequestError
		if _, err := Prepare(req); !errors.As(err, &re) {
			t.Errorf("%s with a lookup option: %v", req.Command, err)
		}
	}
	all := map[string]any{"extract": true, "include_private": true, "include_benign": true}
	if _, err := Prepare(withOptions(t, "lookup", []string{"x"}, all)); err != nil {
		t.Error(err)
	}
	// include_private is the run's, for every command.
	if _, err := Prepare(withOptions(t, "check-ip-reputation", []string{"8.8.8.8"}, map[string]any{"include_private": true})); err != nil {
		t.Error(err)
	}
}

// inputs are the inputs the run looked up: those of its entries but the skipped.
func inputs(env *Envelope) []string {
	var out []string
	for _, c := range env.ContextData {
		if c.Status != StatusSkipped {
			out = append(out, c.Input)
		}
	}
	return out
}

// skippedOf returns the envelope's skipped list without the entries' positions,
// after checking each position names an entry skipped for the same input and
// reason.
func skippedOf(t *testing.T, env *Envelope) []SkippedInput {
	t.Helper()
	var out []SkippedInput
	for _, s := range env.Skipped {
		if s.Index != nil {
			e := env.ContextData[*s.Index]
			if e.Status != StatusSkipped || e.Input != s.Input || e.SkipReason != s.Reason || e.RiskLevel != "N/A" || e.RiskLevelCode != 4 {
				t.Errorf("skipped %+v: its entry is %+v", s, e)
			}
		}
		s.Index = nil
		out = append(out, s)
	}
	return out
}

// --kinds looks up only the kinds asked for: the others found are skipped, with why; a
// name that is no kind is refused before anything is sent.
func TestLookupKinds(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	text := "seen 44d88612fea8a8f36de82e1278abb02f from 45.61.136.22 at hxxp://evil-c2[.]net/x"
	env := e.run(t, withOptions(t, "lookup", []string{text}, map[string]any{"extract": true, "kinds": "file, ip"}))
	if got := strings.Join(inputs(env), " "); got != "44d88612fea8a8f36de82e1278abb02f 45.61.136.22" {
		t.Errorf("looked up %q, want the hash and the address", got)
	}
	if len(env.Skipped) != 1 || env.Skipped[0].Type != "url" || env.Skipped[0].Reason != "not of a kind asked for (file, ip)" {
		t.Errorf("skipped %+v, want the URL, not of a kind asked for", env.Skipped)
	}
	before := e.requests("")
	_, err := Prepare(withOptions(t, "lookup", []string{"x"}, map[string]any{"kinds": "file,hash"}))
	var re *RequestError
	if !errors.As(err, &re) || !strings.Contains(re.Message(CLI), "--kinds takes") || !strings.Contains(re.Message(REST), `"kinds" takes`) ||
		!strings.Contains(err.Error(), `"hash"`) {
		t.Errorf("kinds file,hash: %v", err)
	}
	if n := e.requests(""); n != before {
		t.Errorf("%d requests sent for a refused request", n-before)
	}
}
