package storecli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/cli/storecli"
)

// TestPrintEscapesControlCharacters: a listing's table and CSV show a name or a
// health message holding terminal controls escaped, one record a line.
func TestPrintEscapesControlCharacters(t *testing.T) {
	rows := [][]string{{"evil\x1b[2J", "bell\x07\nnext\u009b"}}
	for format, want := range map[string]string{
		"table": "NAME         MESSAGE\nevil\\x1b[2J  bell\\a\\nnext\\u009b\n",
		"csv":   "NAME,MESSAGE\nevil\\x1b[2J,bell\\a\\nnext\\u009b\n",
	} {
		var out bytes.Buffer
		ios := &iostreams.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}
		if err := storecli.Print(ios, format, nil, []string{"NAME", "MESSAGE"}, rows); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("%s:\n%q\nwant\n%q", format, out.String(), want)
		}
	}
	if rows[0][0] != "evil\x1b[2J" {
		t.Errorf("Print changed its caller's rows: %q", rows[0])
	}
}
