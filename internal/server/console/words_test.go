package console_test

import (
	"strings"
	"testing"
)

// TestRunPageSpeaksRESTsWords: the command runner describes a command in REST's
// words, which are the console's: no CLI flag, and where the widget's HTML goes.
func TestRunPageSpeaksRESTsWords(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login(e.tokens["admin"])
	for cmd, want := range map[string]string{
		"retrieve-widget-html-content": "in its context entry",
		"get-ip-relationships":         "Objects related to each IP address (&#34;relationship&#34;)",
		"download-file":                "into the file store",
	} {
		p := b.get("/run?command=" + cmd)
		hint, _, _ := strings.Cut(p.body[strings.Index(p.body, `<p class="hint">`)+1:], "</p>")
		if p.status != 200 || !strings.Contains(hint, want) || strings.Contains(hint, "--") {
			t.Errorf("%s: %d, hint %q, want it to say %s and name no flag", cmd, p.status, hint, want)
		}
	}
}
