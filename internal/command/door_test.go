package command

import (
	"errors"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/vtsim"
)

// TestRefusalsSpeakTheDoorsWords: one refusal, two wordings: the CLI's names flags,
// REST's names the body's members (and a connection's "quota"), never a flag.
func TestRefusalsSpeakTheDoorsWords(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	e.deps.PublicKey = true
	run := func(req Request) error {
		p, err := Prepare(req)
		if err != nil {
			return err
		}
		_, err = Run(t.Context(), e.deps, p)
		return err
	}
	x := []string{"x"}
	download := func(outDir string) Request {
		c, _ := Lookup("download-file")
		o := c.NewOptions().(*DownloadOptions)
		o.OutDir = outDir
		return Request{Command: c.Name, Inputs: []string{"44d88612fea8a8f36de82e1278abb02f"}, Options: o}
	}
	for _, tc := range []struct {
		req       Request
		cli, rest string
	}{
		{withOptions(t, "check-file-reputation", x, map[string]any{"out_dir": "/tmp"}), "option --out-dir", `option "out_dir"`},
		{withOptions(t, "check-file-reputation", x, map[string]any{"poll_interval": 5}), "option --poll-interval", `option "poll_interval"`},
		{withOptions(t, "check-file-reputation", x, map[string]any{"widget_colors": map[string]any{"fg1": "fff"}}),
			"option --fg1, --bg1, --bg2 and --bd1", `option "widget_colors"`},
		{Request{Command: "get-ip-relationships", Inputs: []string{"8.8.8.8"}}, "(--relationship NAME)", `("relationship")`},
		{Request{Command: "add-comment", Inputs: []string{"8.8.8.8"}}, "(--comment TEXT)", `("comment")`},
		{Request{Command: "add-vote", Inputs: []string{"8.8.8.8"}}, "(--verdict harmless|malicious)", `("verdict")`},
		{withOptions(t, "search", x, map[string]any{"limit": -1}), "--limit must be at least 1, got -1", `"limit" must be at least 1, got -1`},
		{download(""), "(--out-dir DIR)", `("out_dir")`},
		{download(t.TempDir()), "run with --quota premium (or store the connection with --quota premium)", `set the connection's "quota" to "premium"`},
		{withOptions(t, "get-url-relationships", []string{"https://example.com/"}, map[string]any{"relationship": "contacted_domains"}),
			"run with --quota premium", `set the connection's "quota" to "premium"`},
	} {
		err := run(tc.req)
		var re *RequestError
		if !errors.As(err, &re) {
			t.Errorf("%s %+v: %v, want a RequestError", tc.req.Command, tc.req, err)
			continue
		}
		cli, rest := re.Message(CLI), re.Message(REST)
		if !strings.Contains(cli, tc.cli) || re.Error() != cli {
			t.Errorf("%s, CLI: %q, want it to say %s", tc.req.Command, cli, tc.cli)
		}
		if !strings.Contains(rest, tc.rest) || strings.Contains(rest, "--") {
			t.Errorf("%s, REST: %q, want it to say %s and name no flag", tc.req.Command, rest, tc.rest)
		}
	}
	if n := e.requests(""); n != 0 {
		t.Errorf("refused requests sent %d requests", n)
	}
}

// TestSummariesSpeakTheDoorsWords: a command's description names flags only on the
// CLI (Short is the CLI's), never over REST and in the console.
func TestSummariesSpeakTheDoorsWords(t *testing.T) {
	flags := 0
	for _, c := range All() {
		if c.Summary(CLI) != c.Short || c.Short == "" {
			t.Errorf("%s: Short %q, CLI summary %q", c.Name, c.Short, c.Summary(CLI))
		}
		if strings.Contains(c.Short, "--") {
			flags++
		}
		if s := c.Summary(REST); strings.Contains(s, "--") || s == "" {
			t.Errorf("%s over REST: %q", c.Name, s)
		}
	}
	if flags < 5 {
		t.Errorf("only %d CLI summaries name a flag", flags)
	}
	if s := mustLookup(t, "retrieve-widget-html-content").Summary(REST); !strings.Contains(s, "context entry's html") {
		t.Errorf("the widget's REST summary %q does not say where the HTML is", s)
	}
}

func mustLookup(t *testing.T, name string) *Command {
	t.Helper()
	c, ok := Lookup(name)
	if !ok {
		t.Fatalf("no command %s", name)
	}
	return c
}
