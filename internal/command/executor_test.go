package command

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/vtsim"
)

// md5, sha1 and sha256 of one file, duplicates and case variants: one request each
// distinct file, whatever order the inputs come in.
func TestRunOneRequestPerDistinctFile(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	a := findSHA256(t, "dedup-a", exists)
	b := findSHA256(t, "dedup-b", exists)
	md5A, sha1A, _ := e.fileHashes(t, a)
	md5B, _, _ := e.fileHashes(t, b)
	e.reset()

	inputs := []string{md5A, strings.ToUpper(a), sha1A, a, " " + a + " ", md5B, strings.ToUpper(md5A), b}
	env := e.run(t, Request{Command: "check-file-reputation", Inputs: inputs, Run: RunOptions{Concurrency: 4, Fresh: true}})

	if got := e.requests("GET /files/{id}"); got != 2 {
		t.Errorf("GET /files/{id} requests = %d, want 2 (one per distinct file)", got)
	}
	if env.ReturnData != Successful || len(env.ContextData) != len(inputs) || len(env.RawData) != len(inputs) {
		t.Fatalf("return_data %q, %d context entries, %d raw: want Successful and %d of each", env.ReturnData, len(env.ContextData), len(env.RawData), len(inputs))
	}
	for i, c := range env.ContextData {
		want := a
		if i == 5 || i == 7 {
			want = b
		}
		if c.Input != inputs[i] || c.ID != want {
			t.Errorf("entry %d = input %q id %q, want input %q id %q", i, c.Input, c.ID, inputs[i], want)
		}
	}
	levels := env.KeyFields["RiskLevels"].([]string)
	if len(levels) != len(inputs) || levels[0] != levels[1] || levels[0] != levels[2] {
		t.Errorf("RiskLevels = %v: want one per input, the same for the hashes of one file", levels)
	}
	_ = md5B
}

func TestRunCacheAcrossRuns(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	a := findSHA256(t, "cache-a", exists)
	missing := findSHA256(t, "cache-missing", func(id string) bool { return !exists(id) })
	c := cache.NewMemory()
	e.deps.Cache = c
	e.run(t, Request{Command: "check-file-reputation", Inputs: []string{a, missing}})
	md5, _, _ := e.fileHashes(t, a)
	e.reset()

	env := e.run(t, Request{Command: "get-file-reports", Inputs: []string{a, md5, missing}})
	if got := e.requests(""); got != 0 {
		t.Errorf("second run sent %d requests, want 0 (a and its md5 cached, the 404 cached briefly)", got)
	}
	if f := env.ContextData[0].Fields.(*ObjectFields); !f.Cached || env.Errors[0].StatusCode != 404 {
		t.Errorf("cached run: %s", mustJSON(t, env))
	}

	env = e.run(t, Request{Command: "get-file-reports", Inputs: []string{a}, Run: RunOptions{Fresh: true}})
	if got := e.requests(""); got != 1 || env.ContextData[0].Fields.(*ObjectFields).Cached {
		t.Errorf("--fresh sent %d requests, want 1 and a live answer", got)
	}
	env = e.run(t, Request{Command: "get-file-reports", Inputs: []string{a}, Run: RunOptions{MaxAge: time.Nanosecond}})
	if got := e.requests(""); got != 2 {
		t.Errorf("an expired cache entry sent %d requests in all, want 2", got)
	}
	_ = env
}

func TestRunOrderAndStreaming(t *testing.T) {
	e := newEnv(t, vtsim.Options{Latency: time.Millisecond, Jitter: 8 * time.Millisecond, Seed: 7})
	var inputs []string
	for i := range 40 {
		inputs = append(inputs, sha256Hex(string(rune('a'+i%26))+strings.Repeat("x", i)))
	}
	inputs = append(inputs, "not-a-hash", inputs[3])
	var mu sync.Mutex
	var seen []int
	p, err := Prepare(Request{Command: "check-file-reputation", Inputs: inputs, Run: RunOptions{Concurrency: 8}})
	if err != nil {
		t.Fatal(err)
	}
	results := make([]Result, p.Len())
	err = Stream(context.Background(), e.deps, p, nil, func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		if r.Context.Input != inputs[r.Index] {
			t.Errorf("streamed result %d has input %q, want %q", r.Index, r.Context.Input, inputs[r.Index])
		}
		seen = append(seen, r.Index)
		results[r.Index] = r
	})
	if err != nil {
		t.Fatal(err)
	}
	env := p.Envelope(results)
	if len(seen) != len(inputs) {
		t.Fatalf("the sink was called %d times, want %d", len(seen), len(inputs))
	}
	if seen[0] != 40 {
		t.Errorf("first streamed result is input %d, want the invalid input 40 (it finishes before anything is sent)", seen[0])
	}
	once := map[int]bool{}
	for _, i := range seen {
		if once[i] {
			t.Errorf("input %d streamed twice", i)
		}
		once[i] = true
	}
	for i, c := range env.ContextData {
		if c.Input != inputs[i] {
			t.Fatalf("context_data[%d].input = %q, want %q (input order)", i, c.Input, inputs[i])
		}
	}
	if env.ContextData[41].ID != env.ContextData[3].ID || env.ContextData[41].Status != env.ContextData[3].Status {
		t.Errorf("duplicate input not reported like the first: %+v vs %+v", env.ContextData[41], env.ContextData[3])
	}
	nErr := 0
	for _, c := range env.ContextData {
		if c.Status == StatusError {
			nErr++
		}
	}
	if nErr != len(env.Errors) || len(env.RawData) != len(inputs)-nErr {
		t.Errorf("%d error entries, %d errors, %d raw for %d inputs", nErr, len(env.Errors), len(env.RawData), len(inputs))
	}
}

func TestRunInvalidInputsSendNothing(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	tests := []struct {
		cmd, input, msg string
	}{
		{"check-file-reputation", "44d88612fea8a8f36de82e1278abb02", "Invalid Hash."},
		{"check-ip-reputation", "1.2.3", "Invalid IP."},
		{"check-url-reputation", "not a url", "Invalid URL."},
		{"check-domain-reputation", "bad_domain!", "Invalid Domain."},
		{"get-file-reports", "xyz", "Invalid Hash."},
		{"scan-url", "", "Invalid URL."},
	}
	for _, tt := range tests {
		env := e.run(t, Request{Command: tt.cmd, Inputs: []string{tt.input}})
		if env.ReturnData != Failed || len(env.Errors) != 1 {
			t.Fatalf("%s %q: %s", tt.cmd, tt.input, mustJSON(t, env))
		}
		er := env.Errors[0]
		title := strings.TrimSuffix(er.FailureIndicator, " failed.")
		if c, _ := Lookup(tt.cmd); c.Title != title {
			t.Errorf("failure_indicator %q, want %q", er.FailureIndicator, c.Title+" failed.")
		}
		if er.StatusCode != 400 || !strings.HasPrefix(er.Message, tt.msg) || len(er.Message) <= len(tt.msg)+2 {
			t.Errorf("%s %q: error %+v, want 400 %q with what is wrong", tt.cmd, tt.input, er, tt.msg)
		}
		if env.ContextData[0].RiskLevel != "N/A" || env.ContextData[0].RiskLevelCode != 4 {
			t.Errorf("%s: error entry risk %q %d, want N/A 4", tt.cmd, env.ContextData[0].RiskLevel, env.ContextData[0].RiskLevelCode)
		}
	}
	if n := e.requests(""); n != 0 {
		t.Errorf("%d requests sent for invalid inputs, want 0", n)
	}
}

func TestRunFailuresKeepAnsweredInputs(t *testing.T) {
	t.Run("quota", func(t *testing.T) {
		e := newEnv(t, vtsim.Options{QuotaDay: 3})
		var inputs []string
		for i := range 5 {
			inputs = append(inputs, findSHA256(t, "quota-"+string(rune('a'+i)), exists))
		}
		env := e.run(t, Request{Command: "check-file-reputation", Inputs: inputs, Run: RunOptions{Concurrency: 1}})
		if env.ReturnData != PartiallySuccessful || len(env.RawData) != 3 || len(env.Errors) != 2 {
			t.Fatalf("got %s with %d raw and %d errors; want the 3 answered kept and 2 errors", env.ReturnData, len(env.RawData), len(env.Errors))
		}
		for _, er := range env.Errors {
			if er.StatusCode != 429 || er.Code != "QuotaExceededError" || er.FailureIndicator != "Check File Reputation failed." {
				t.Errorf("quota error = %+v", er)
			}
		}
	})
	t.Run("transient", func(t *testing.T) {
		e := newEnv(t, vtsim.Options{FailRate: 1})
		env := e.run(t, Request{Command: "check-ip-reputation", Inputs: []string{"8.8.8.8", "1.1.1.1"}})
		if env.ReturnData != Failed || len(env.Errors) != 2 || env.Errors[0].StatusCode != 503 || env.Errors[0].Code != "TransientError" {
			t.Errorf("transient: %s", mustJSON(t, env.Errors))
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		e := newEnv(t, vtsim.Options{})
		e.deps = depsFor(t, e.srv.URL, "bad-key")
		env := e.run(t, Request{Command: "check-domain-reputation", Inputs: []string{"vtsoar.net"}})
		if len(env.Errors) != 1 || env.Errors[0].StatusCode != 401 || env.Errors[0].Code != "WrongCredentialsError" {
			t.Errorf("wrong key: %s", mustJSON(t, env.Errors))
		}
		if strings.Contains(mustJSON(t, env), "bad-key") {
			t.Error("the API key appears in the envelope")
		}
	})
	t.Run("server down", func(t *testing.T) {
		e := newEnv(t, vtsim.Options{})
		e.srv.Close()
		env := e.run(t, Request{Command: "check-file-reputation", Inputs: []string{sha256Hex("down")}})
		if len(env.Errors) != 1 || env.Errors[0].StatusCode != 0 || env.Errors[0].Code != "ConnectionError" || env.Errors[0].Message == "" {
			t.Errorf("server down: %s", mustJSON(t, env.Errors))
		}
	})
	t.Run("canceled", func(t *testing.T) {
		e := newEnv(t, vtsim.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		p, err := Prepare(Request{Command: "check-file-reputation", Inputs: []string{sha256Hex("x")}})
		if err != nil {
			t.Fatal(err)
		}
		env, err := Run(ctx, e.deps, p)
		if err != nil || len(env.Errors) != 1 || env.Errors[0].Code != "CanceledError" {
			t.Errorf("canceled run: %v %s", err, mustJSON(t, env))
		}
	})
}

func TestRunNotFound(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	missing := findSHA256(t, "nf", func(id string) bool { return !exists(id) })
	tests := []struct{ cmd, input, msg string }{
		{"check-file-reputation", missing, "File Not Found."},
		{"get-domain-reports", "nothing.invalid", "Domain Not Found."},
		{"check-url-reputation", "http://nothing.invalid/x", "URL Not Found."},
		{"get-url-reports", "http://nothing.invalid/x", "URL Not Found."},
	}
	for _, tt := range tests {
		// The emulator's names under .invalid are not found; they are reserved, so the
		// run sends them only when told to.
		req := withOptions(t, tt.cmd, []string{tt.input}, map[string]any{"include_private": true})
		if tt.cmd == "get-url-reports" {
			req = withOptions(t, tt.cmd, []string{tt.input}, map[string]any{"no_submit": true, "include_private": true})
		}
		env := e.run(t, req)
		if len(env.Errors) != 1 || env.Errors[0].StatusCode != 404 || env.Errors[0].Code != "NotFoundError" || env.Errors[0].Message != tt.msg {
			t.Errorf("%s %s: %s, want 404 %q", tt.cmd, tt.input, mustJSON(t, env.Errors), tt.msg)
		}
	}
	if n := e.requests("POST /urls"); n != 0 {
		t.Errorf("--no-submit submitted %d URLs", n)
	}
}

func TestRunRequestErrors(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	x := []string{"x"}
	bad := []Request{
		{Command: "no-such-command", Inputs: x},
		{Command: "get-file-relationships", Inputs: x},
		withOptions(t, "get-file-relationships", x, map[string]any{"relationship": "resolutions"}),
		withOptions(t, "get-ip-relationships", x, map[string]any{"relationship": "contacted_ips"}),
		withOptions(t, "check-file-reputation", x, map[string]any{"relationship": "comments"}),
		{Command: "check-file-reputation", Inputs: nil},
		withOptions(t, "search", x, map[string]any{"limit": -1}),
	}
	for _, req := range bad {
		_, err := Prepare(req)
		var re *RequestError
		if !errors.As(err, &re) {
			t.Errorf("Prepare(%+v) error = %v, want a *RequestError", req, err)
		}
	}
	if _, err := Prepare(Request{Command: "nope"}); !errors.Is(err, ErrUnknownCommand) {
		t.Errorf("unknown command: %v", err)
	}
	if n := e.requests(""); n != 0 {
		t.Errorf("%d requests sent for malformed requests", n)
	}
}

func TestRunWrongKindSaysWhichCommand(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	env := e.run(t, Request{Command: "check-file-reputation", Inputs: []string{"8.8.8.8", "vtsoar.net"}})
	if m := env.Errors[0].Message; m != "Invalid Hash. 8.8.8.8 is an IP address, not a file hash; use the check-ip-reputation command." {
		t.Errorf("IP given to a file command: %q", m)
	}
	if m := env.Errors[1].Message; !strings.Contains(m, "check-domain-reputation") {
		t.Errorf("domain given to a file command: %q", m)
	}
}

func TestRunWrongKindWithoutSibling(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	env := e.run(t, Request{Command: "get-file-behavior-summaries", Inputs: []string{"8.8.8.8"}})
	if m := env.Errors[0].Message; m != "Invalid Hash. 8.8.8.8 is an IP address, not a file hash." {
		t.Errorf("IP given to get-file-behavior-summaries: %q", m)
	}
}

func TestInvalidMessagesKeepHashNamesAsWritten(t *testing.T) {
	for in, want := range map[string]string{
		"md5 must be 32 hex characters, got 31":    "Invalid Hash. md5 must be 32 hex characters, got 31.",
		"sha256 must be 64 hex characters, got 63": "Invalid Hash. sha256 must be 64 hex characters, got 63.",
		"hash has a non-hex character":             "Invalid Hash. Hash has a non-hex character.",
	} {
		if got := joinMsg("Invalid Hash.", in); got != want {
			t.Errorf("joinMsg(%q) = %q, want %q", in, got, want)
		}
	}
}

// Stream gives every input its answer, and an envelope made of results whose answers
// the caller dropped (as -o jsonl does) holds none of them.
func TestStreamGivesEachInputItsAnswer(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	id := findSHA256(t, "noraw", exists)
	md5, _, _ := e.fileHashes(t, id)
	e.reset()
	p, err := Prepare(Request{Command: "check-file-reputation", Inputs: []string{id, id, md5}})
	if err != nil {
		t.Fatal(err)
	}
	var streamed []Result
	kept := make([]Result, p.Len())
	if err := Stream(context.Background(), e.deps, p, nil, func(r Result) {
		streamed = append(streamed, r)
		r.Raw = nil
		kept[r.Index] = r
	}); err != nil {
		t.Fatal(err)
	}
	if len(streamed) != 3 || e.requests("") != 1 {
		t.Fatalf("streamed %d results with %d requests, want 3 and 1", len(streamed), e.requests(""))
	}
	for _, r := range streamed {
		if len(r.Raw) == 0 || r.Context.RiskLevel == "" {
			t.Fatalf("input %d streamed without its answer: %+v", r.Index, r)
		}
	}
	env := p.Envelope(kept)
	if env.ReturnData != Successful || len(env.RawData) != 3 || string(env.RawData[0]) != "null" {
		t.Fatalf("envelope: %s, raw_data %q", env.ReturnData, env.RawData)
	}
}

// Stream runs only the inputs asked for, each result at its input's position, and the
// envelope of the results of two partial runs is the envelope of one whole run.
func TestStreamRunsSomeInputs(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	inputs := []string{findSHA256(t, "part-a", exists), "not-a-hash", findSHA256(t, "part-b", exists), "8.8.8.8"}
	p, err := Prepare(Request{Command: "check-file-reputation", Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	results := make([]Result, p.Len())
	done := map[int]bool{}
	for _, only := range [][]int{{2, 1}, {0, 3}} {
		if err := Stream(context.Background(), e.deps, p, only, func(r Result) {
			if done[r.Index] || r.Context.Input != inputs[r.Index] {
				t.Errorf("result %d (%q) not one of %v", r.Index, r.Context.Input, only)
			}
			done[r.Index] = true
			results[r.Index] = r
		}); err != nil {
			t.Fatal(err)
		}
	}
	whole, err := Run(context.Background(), e.deps, p)
	if err != nil {
		t.Fatal(err)
	}
	got, want := mustJSON(t, p.Envelope(results)), mustJSON(t, whole)
	// The whole run answers from the cache the partial runs filled.
	if got != strings.ReplaceAll(want, `,"cached":true`, "") {
		t.Errorf("envelope of two partial runs:\n%s\nwhole run:\n%s", got, want)
	}
	if err := Stream(context.Background(), e.deps, p, []int{4}, func(Result) {}); err == nil {
		t.Error("an input position past the inputs was taken")
	}
}
