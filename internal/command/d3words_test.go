package command

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vtsim"
)

// d3Words is a row of testdata/d3words.json: D3 SOAR's failure words for one command,
// as its integration's page gives them (docs/D3.md, section 4).
type d3Words struct {
	Command          string `json:"command"`
	Case             string `json:"case"`
	FailureIndicator string `json:"d3_failure_indicator"`
	StatusCode       int    `json:"d3_status_code"`
	Message          string `json:"d3_message"`
}

func readD3Words(t *testing.T) []d3Words {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "d3words.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []d3Words
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// d3Case is how a row's failure is made against the emulator: the inputs and options
// of the request, and the failures the emulator injects (none: its universe answers).
type d3Case struct {
	inputs  []string
	members map[string]any
	fail    vtsim.FailMix
}

// missing returns the first of candidate(0), candidate(1), ... that is public and that
// the emulator's universe does not have: the first byte of SHA-256 of id(candidate)
// is below 0x10 (DESIGN.md, "The universe").
func missing(t *testing.T, candidate func(i int) string, id func(string) string) string {
	t.Helper()
	for i := range 100000 {
		c := candidate(i)
		o, err := ioc.Parse(c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if scope, _ := ioc.Classify(o); scope == ioc.Public && !exists(id(c)) {
			return c
		}
	}
	t.Fatal("no missing observable found")
	return ""
}

// TestD3Words holds each command to D3 SOAR's words (testdata/d3words.json): run
// against the emulator, the failure it names gives D3's failure indicator and status
// code, and a message that is D3's, alone or followed by vtsoar's detail.
func TestD3Words(t *testing.T) {
	zero := strings.Repeat("0", 64)
	ip := missing(t, func(i int) string { return fmt.Sprintf("1.2.%d.%d", i/250, 1+i%250) }, func(s string) string { return s })
	domain := missing(t, func(i int) string { return fmt.Sprintf("absent%d.com", i) }, func(s string) string { return s })
	url := missing(t, func(i int) string { return fmt.Sprintf("http://absent%d.com/x", i) },
		func(s string) string { return ioc.URLSHA256ID(s) })
	notFound := vtsim.FailMix{vtsim.Fault404: 1}
	forbiddenHTML := vtsim.FailMix{vtsim.Fault403HTML: 1}
	cases := map[string]d3Case{
		"check-file-reputation":        {inputs: []string{zero}},
		"check-ip-reputation":          {inputs: []string{ip}},
		"check-url-reputation":         {inputs: []string{url}},
		"detonate-files":               {inputs: []string{filepath.Join(t.TempDir(), "absent.bin")}},
		"get-domain-relationships":     {inputs: []string{domain}, members: map[string]any{"relationship": "Subdomains"}},
		"get-domain-reports":           {inputs: []string{domain}},
		"get-file-behavior-summaries":  {inputs: []string{zero}},
		"get-file-relationships":       {inputs: []string{zero}, members: map[string]any{"relationship": "Contacted_ips"}},
		"get-file-reports":             {inputs: []string{zero}},
		"get-ip-relationships":         {inputs: []string{"999.1.1.1"}, members: map[string]any{"relationship": "Communicating_files"}},
		"get-ip-reports":               {inputs: []string{"999.1.1.1"}},
		"get-url-relationships":        {inputs: []string{"ht!tp:/"}, members: map[string]any{"relationship": "Network_location"}},
		"get-url-reports":              {inputs: []string{"ht!tp:/"}},
		"retrieve-widget-html-content": {inputs: []string{"44d88612fea8a8f36de82e1278abb02f"}, fail: forbiddenHTML},
		// VirusTotal takes any URL to scan and answers a search with no results 200
		// (Successful, count 0): a 404 comes only from the emulator's fault.
		"scan-url":        {inputs: []string{url}, fail: notFound},
		"search":          {inputs: []string{"tag:nothing"}, fail: notFound},
		"test-connection": {fail: forbiddenHTML},
	}
	rows := readD3Words(t)
	if len(rows) != 17 {
		t.Fatalf("%d rows in d3words.json, want D3's 17 commands", len(rows))
	}
	var seen []string
	for _, w := range rows {
		seen = append(seen, w.Command)
		t.Run(w.Command, func(t *testing.T) {
			cmd, ok := Lookup(w.Command)
			if !ok {
				t.Fatalf("no command %s", w.Command)
			}
			if cmd.FailureIndicator != w.FailureIndicator {
				t.Errorf("FailureIndicator = %q, want D3's %q", cmd.FailureIndicator, w.FailureIndicator)
			}
			c, ok := cases[w.Command]
			if !ok {
				t.Fatalf("no way to make the %s case of %s", w.Case, w.Command)
			}
			e := newEnv(t, vtsim.Options{FailMix: c.fail})
			env := e.run(t, withOptions(t, w.Command, c.inputs, c.members))
			if len(env.Errors) != 1 {
				t.Fatalf("errors = %+v, want one", env.Errors)
			}
			got := env.Errors[0]
			t.Logf("%s · %d · %s", got.FailureIndicator, got.StatusCode, got.Message)
			if got.FailureIndicator != w.FailureIndicator || got.StatusCode != w.StatusCode ||
				(got.Message != w.Message && !strings.HasPrefix(got.Message, w.Message+" ")) {
				t.Errorf("%s %s:\n got  %q · %d · %q\n want %q · %d · %q (then vtsoar's detail, or nothing)", w.Command, w.Case,
					got.FailureIndicator, got.StatusCode, got.Message, w.FailureIndicator, w.StatusCode, w.Message)
			}
			if env.ContextData[0].Error != got.Message {
				t.Errorf("context entry's error %q, want the message", env.ContextData[0].Error)
			}
		})
	}
	for name := range cases {
		if !slices.Contains(seen, name) {
			t.Errorf("a case for %s, which d3words.json does not have", name)
		}
	}
}

// TestNotJSONWordsEveryCommand: whatever the command, an answer that is not JSON at all
// (a proxy's HTML 403) is reported in D3's words, "Expecting value: line 1 column 1.",
// then vtsoar's description of the body.
func TestNotJSONWordsEveryCommand(t *testing.T) {
	e := newEnv(t, vtsim.Options{FailMix: vtsim.FailMix{vtsim.Fault403HTML: 1}, PremiumKeys: []string{testKey}})
	sample := filepath.Join(t.TempDir(), "sample.bin")
	if err := os.WriteFile(sample, []byte("sample"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range All() {
		t.Run(cmd.Name, func(t *testing.T) {
			input, members := "8.8.8.8", map[string]any{}
			switch {
			case cmd.TakesFiles:
				input = sample
			case cmd.Kind == ioc.KindFile:
				input = "44d88612fea8a8f36de82e1278abb02f"
			case cmd.Kind == ioc.KindURL:
				input = "http://vtsoar-test.net/x"
			case cmd.Kind == ioc.KindDomain:
				input = "vtsoar-test.net"
			}
			for _, f := range cmd.NewOptions().Fields() {
				switch f.JSONName() {
				case "relationship":
					members["relationship"] = "comments"
				case "comment":
					members["comment"] = "text"
				case "verdict":
					members["verdict"] = "harmless"
				}
			}
			var inputs []string
			if !cmd.NoInputs {
				inputs = []string{input}
			}
			req := withOptions(t, cmd.Name, inputs, members)
			if cmd.WritesFiles {
				// As the CLI asks: the options typed, with a directory to write in.
				opts := cmd.NewOptions()
				for _, f := range opts.Fields() {
					if v, ok := members[f.JSONName()]; ok {
						*f.Value.(*string) = v.(string)
					}
					if f.JSONName() == "out_dir" {
						*f.Value.(*string) = t.TempDir()
					}
				}
				req = Request{Command: cmd.Name, Inputs: inputs, Options: opts}
			}
			env := e.run(t, req)
			if len(env.Errors) != 1 {
				t.Fatalf("errors = %+v, want one", env.Errors)
			}
			indicator := cmd.FailureIndicator
			if cmd == LookupCommand() {
				indicator = ReputationCheck(ioc.KindIP).FailureIndicator // the check 8.8.8.8 went to
			}
			if got := env.Errors[0]; got.StatusCode != 403 || !strings.HasPrefix(got.Message, NotJSON+" Non-JSON answer (text/html, ") ||
				got.FailureIndicator != indicator {
				t.Errorf("%s: %+v", cmd.Name, got)
			}
		})
	}
}
