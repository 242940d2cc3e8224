package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/cli"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
)

// Names, sites and keys holding a control character (NUL, BEL, ESC, CR, LF, a C1
// control) are refused with exit code 2 at every command that stores or uses them,
// and nothing is stored.
func TestControlCharactersRefused(t *testing.T) {
	for _, k := range []string{"VTSOAR_MASTER_KEY", "VT_API_KEY", "VT_SERVER_URL", "VTSOAR_QUOTA"} {
		t.Setenv(k, "")
	}
	db := filepath.Join(t.TempDir(), "vtsoar.db")
	run := func(stdin string, args ...string) (int, string) {
		t.Helper()
		ios, in, out, errOut := iostreams.Test()
		in.WriteString(stdin)
		code := cli.Main(context.Background(), append([]string{"--db", db}, args...), ios)
		return code, out.String() + errOut.String()
	}
	t.Setenv("CRLF_KEY", "abc\r\nX-Injected: 1")
	t.Setenv("ESC_KEY", "abc\x1b[2Jdef")
	const key = "a-good-key-0123456789"
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{key, []string{"connection", "add", "nul\x00name", "--api-key-stdin"}, "control character"},
		{key, []string{"connection", "add", "esc\x1b[2Jname", "--api-key-stdin"}, "control character"},
		{key, []string{"connection", "add", "bel\x07", "--api-key-stdin"}, "control character"},
		{key, []string{"connection", "add", "c1\u009bname", "--api-key-stdin"}, "control character"},
		{key, []string{"connection", "add", "bad\xffutf8", "--api-key-stdin"}, "UTF-8"},
		{key, []string{"connection", "add", "ok", "--api-key-stdin", "--site", "par\x1bis"}, "control character"},
		{key, []string{"connection", "add", "ok", "--api-key-stdin", "--user", "bo\x07b"}, "control character"},
		{"abc\x00def", []string{"connection", "add", "ok", "--api-key-stdin"}, "API key"},
		{"", []string{"connection", "add", "ok", "--api-key", "env:CRLF_KEY"}, "API key"},
		{"", []string{"connection", "add", "ok", "--api-key", "env:ESC_KEY"}, "API key"},
		{"", []string{"user", "add", "eve\x00", "--role", "analyst"}, "control character"},
		{"", []string{"user", "add", "eve\x1b]0;pwned\x07", "--role", "analyst"}, "control character"},
		{"", []string{"user", "add", "eve", "--role", "analyst", "--site", "lyo\x1bn"}, "control character"},
		{"", []string{"--api-key", "abc\r\ndef", "check-ip-reputation", "8.8.8.8"}, "API key"},
		{"", []string{"--api-key", "abc\x1bdef", "test-connection"}, "API key"},
		{"", []string{"gateway-key", "add", "misp\x1b[2J", "--connection", "ok"}, "control character"},
		{"", []string{"gateway-key", "add", "mi\x00sp", "--connection", "ok"}, "control character"},
	} {
		code, out := run(tc.stdin, tc.args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("vtsoar %q: exit %d (want 2), output %q (want %q)", tc.args, code, out, tc.want)
		}
		if strings.Contains(out, "\x1b") || strings.Contains(out, "\x07") || strings.Contains(out, "\x00") {
			t.Errorf("vtsoar %q: the refusal echoes the control character raw: %q", tc.args, out)
		}
	}
	for _, group := range []string{"connection", "user", "gateway-key"} {
		if code, out := run("", group, "list", "-o", "json"); code != 0 || strings.TrimSpace(out) != "[]" {
			t.Errorf("%s list after the refusals: exit %d %s", group, code, out)
		}
	}
}
