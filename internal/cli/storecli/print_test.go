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

// TestPrintCSVNeutralisesFormulas: a listing's CSV writes a name or a message that a
// spreadsheet would run as a formula as text (after a single quote); its numbers and
// its dashes stay as they are, and the table shows the text unchanged.
func TestPrintCSVNeutralisesFormulas(t *testing.T) {
	rows := [][]string{{`=HYPERLINK("http://evil.example","x")`, "@SUM(1)", "-1", "-"}, {"+cmd|' /C calc'!A0", "-2+3", "+2.5", "12"}}
	want := map[string]string{
		"csv": "A,B,C,D\n" +
			`"'=HYPERLINK(""http://evil.example"",""x"")",'@SUM(1),-1,-` + "\n" +
			`'+cmd|' /C calc'!A0,'-2+3,+2.5,12` + "\n",
		"table": "A                                      B        C     D\n" +
			`=HYPERLINK("http://evil.example","x")  @SUM(1)  -1    -` + "\n" +
			`+cmd|' /C calc'!A0                     -2+3     +2.5  12` + "\n",
	}
	for format, want := range want {
		var out bytes.Buffer
		ios := &iostreams.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}
		if err := storecli.Print(ios, format, nil, []string{"A", "B", "C", "D"}, rows); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("%s:\n%s\nwant\n%s", format, out.String(), want)
		}
	}
}
