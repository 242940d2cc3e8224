package command

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

// A prepared request's JSON is its request's JSON form: prepared again, it gives the
// same inputs, options and run options (a run kept in a store is resumed elsewhere).
func TestPreparedJSONPreparesAgain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		inputs  []string
		members map[string]any
	}{
		{"get-domain-relationships", []string{"vtsoar.net"}, map[string]any{"relationship": "Subdomains", "limit": 7, "descriptors_only": true}},
		{"lookup", []string{"see 10.0.0.1 and evil.example.net", "8.8.8.8"}, map[string]any{"extract": true, "include_benign": true}},
		{"scan-url", []string{"https://vtsoar.net/"}, map[string]any{"wait": true, "poll_interval": "2s", "timeout": 90}},
		{"retrieve-widget-html-content", []string{"8.8.8.8"}, map[string]any{"widget_colors": map[string]any{"fg1": "ffffff", "bd1": "000000"}}},
		{"add-vote", []string{"8.8.8.8"}, map[string]any{"verdict": "Malicious", "concurrency": 2, "max_age": "1h", "fresh": true}},
		{"test-connection", nil, nil},
	} {
		p, err := Prepare(withOptions(t, tc.name, tc.inputs, tc.members))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var req Request
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatalf("%s: %s: %v", tc.name, b, err)
		}
		req.Command = tc.name
		again, err := Prepare(req)
		if err != nil {
			t.Fatalf("%s: %s prepared again: %v", tc.name, b, err)
		}
		b2, _ := json.Marshal(again)
		if string(b) != string(b2) || !reflect.DeepEqual(p.Inputs(), again.Inputs()) || !reflect.DeepEqual(p.Skipped(), again.Skipped()) ||
			!reflect.DeepEqual(p.Options(), again.Options()) || p.RunOptions() != again.RunOptions() {
			t.Errorf("%s: %s prepared again is %s", tc.name, b, b2)
		}
	}
}

// The members of a JSON form that no option of the command takes are refused, the
// first in name order, whatever the order of the body; an option of the command line
// only is refused over REST with what the API does instead.
func TestPrepareRefusesMembers(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"inputs": ["x"], "zeta": 1, "relationship": "x", "alpha": 2}`, `unknown member "alpha"`},
		{`{"relationship": "x", "inputs": ["x"], "zeta": 1}`, `check-file-reputation does not take the option "relationship"`},
		{`{"inputs": ["x"], "limit": "ten"}`, `does not take the option "limit"`},
		{`{"inputs": ["x"], "concurrency": 17}`, `"concurrency" must be at most 16, got 17`},
		{`{"inputs": ["x"], "concurrency": -1}`, `"concurrency" must not be negative`},
		{`{"inputs": ["x"], "max_age": "-1s"}`, `"max_age" must not be negative`},
		{`{"inputs": "x"}`, `"inputs" must be`},
		{`{"command": "check_FILE_reputation", "inputs": []}`, "check-file-reputation needs at least one input"},
		{`{"command": "scan-url", "inputs": ["x"]}`, `command "scan-url" in the body differs`},
	} {
		var req Request
		if err := json.Unmarshal([]byte(tc.body), &req); err != nil {
			t.Fatal(err)
		}
		req.Command = "check-file-reputation"
		_, err := Prepare(req)
		var re *RequestError
		if !errors.As(err, &re) || !strings.Contains(re.Message(REST), tc.want) {
			t.Errorf("%s: %v, want a *RequestError saying %q", tc.body, err, tc.want)
		}
	}
	var req Request
	json.Unmarshal([]byte(`{"inputs": ["8.8.8.8"], "out_dir": "/tmp"}`), &req)
	req.Command = "retrieve-widget-html-content"
	if _, err := Prepare(req); err == nil || err.Error() != "out_dir is not available over REST: the widget HTML is returned in context_data" {
		t.Errorf("out_dir over REST: %v", err)
	}
	// Over REST download-file keeps its files in the file store: no directory is
	// taken, and none is needed.
	json.Unmarshal([]byte(`{"inputs": ["44d88612fea8a8f36de82e1278abb02f"], "out_dir": "/tmp"}`), &req)
	req.Command = "download-file"
	if _, err := Prepare(req); err == nil || err.Error() != "out_dir is not available over REST: the samples are kept in the file store as playbook files" {
		t.Errorf("download-file's out_dir over REST: %v", err)
	}
	json.Unmarshal([]byte(`{"inputs": ["44d88612fea8a8f36de82e1278abb02f"]}`), &req)
	req.Command = "download-file"
	if _, err := Prepare(req); err != nil {
		t.Errorf("download-file over REST: %v", err)
	}
}

// An option's rules hold whichever door the request came through; the error names
// the option as a body does, and as a flag on the command line.
func TestPrepareChecksEachOption(t *testing.T) {
	c, _ := Lookup("scan-url")
	o := c.NewOptions().(*WaitOptions)
	o.Timeout = 0
	_, err := Prepare(Request{Command: c.Name, Inputs: []string{"https://vtsoar.net/"}, Options: o})
	var oe *OptionError
	var re *RequestError
	if !errors.As(err, &oe) || !errors.As(err, &re) || re.Message(CLI) != "--timeout must be positive" ||
		re.Message(REST) != `"timeout" must be positive` {
		t.Errorf("timeout 0: %v", err)
	}
	// In a body, 0 is the default.
	p, err := Prepare(withOptions(t, c.Name, []string{"https://vtsoar.net/"}, map[string]any{"timeout": 0, "limit": 3}))
	if err == nil || !strings.Contains(err.Error(), "does not take the option --limit") {
		t.Errorf("limit on scan-url: %v %v", p, err)
	}
	p, err = Prepare(withOptions(t, c.Name, []string{"https://vtsoar.net/"}, map[string]any{"timeout": 0}))
	if err != nil || p.AnalysisTimeout() != DefaultTimeout {
		t.Errorf("timeout 0 in a body: %v, %v", p.AnalysisTimeout(), err)
	}
	if p.RunOptions() != (RunOptions{Concurrency: DefaultConcurrency, MaxAge: DefaultMaxAge}) {
		t.Errorf("run options' defaults: %+v", p.RunOptions())
	}
	long := strings.Repeat("x", vt.MaxCommentSize+1)
	if _, err := Prepare(withOptions(t, "add-comment", []string{"8.8.8.8"}, map[string]any{"comment": long})); err == nil {
		t.Error("a comment longer than the schema allows was taken")
	}
}

// A result written as JSON and read back by its command is the result: its fields
// typed, its report decoded (what STIX and MISP read), and the envelope of the results
// read back is the envelope of the results as the run gave them.
func TestResultJSONReadBack(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	for _, req := range []Request{
		{Command: "get-file-reports", Inputs: []string{findSHA256(t, "kept", exists), "not-a-hash"}},
		withOptions(t, "get-domain-relationships", []string{"vtsoar.net"}, map[string]any{"relationship": "subdomains"}),
		{Command: "test-connection"},
	} {
		p, err := Prepare(req)
		if err != nil {
			t.Fatal(err)
		}
		var kept [][]byte
		live := make([]Result, p.Len())
		if err := Stream(context.Background(), e.deps, p, nil, func(r Result) {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, b)
			live[r.Index] = r
		}); err != nil {
			t.Fatal(err)
		}
		results := make([]Result, p.Len())
		for _, b := range kept {
			r, err := p.Command().DecodeResult(b)
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if f, ok := r.Context.Fields.(*ObjectFields); ok && f.ReportSummary != nil {
				if rep, ok := f.Report(); !ok || rep.ID != r.Context.ID {
					t.Errorf("%s: the report was not decoded from the raw answer", r.Context.Input)
				}
			}
			results[r.Index] = r
		}
		if got, want := mustJSON(t, p.Envelope(results)), mustJSON(t, p.Envelope(live)); got != want {
			t.Errorf("%s: envelope of kept results\n%s\nwant\n%s", req.Command, got, want)
		}
	}
}

// An entry written without the command's fields (a failed download: no size, no
// sha256) is read back without them, though some of them are always written when
// there.
func TestResultWithoutFieldsReadBack(t *testing.T) {
	cmd, ok := Lookup("download-file")
	if !ok {
		t.Fatal("no download-file")
	}
	zeros := strings.Repeat("0", 64)
	res := Result{Context: ContextEntry{Input: zeros, Status: StatusError, Type: "file", ID: zeros, Error: "File Not Found."},
		Err: &ErrorEntry{Input: zeros, FailureIndicator: "Download File failed.", StatusCode: 404, Code: "NotFoundError", Message: "File Not Found."}}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	back, err := cmd.DecodeResult(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Context.Fields != nil {
		t.Errorf("%s read back with fields %+v", b, back.Context.Fields)
	}
	if got, want := mustJSON(t, back.Context), mustJSON(t, res.Context); got != want {
		t.Errorf("read back as %s, want %s", got, want)
	}
}
