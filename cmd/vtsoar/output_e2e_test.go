package main_test

import (
	"encoding/csv"
	"regexp"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/vtsim"
)

// TestTableAndCSVShowControlCharactersEscaped: an input holding terminal controls is
// shown escaped by -o table and -o csv, never sent to the terminal as it is.
func TestTableAndCSVShowControlCharactersEscaped(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	env := []string{"VT_SERVER_URL=" + e.srv.URL, "VT_API_KEY=k"}
	for _, format := range []string{"table", "csv"} {
		r := vtsoar(t, env, "", "check-domain-reputation", "\x1b[2J", "\u009b31mred.example", "-o", format)
		if r.code != 1 {
			t.Fatalf("-o %s: exit %d, want 1\nstderr: %s", format, r.code, r.stderr)
		}
		if strings.ContainsAny(r.stdout, "\x1b\u009b") {
			t.Errorf("-o %s passes the inputs' controls through:\n%q", format, r.stdout)
		}
		for _, want := range []string{`\x1b[2J`, `\u009b31mred.example`} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("-o %s lacks %s:\n%s", format, want, r.stdout)
			}
		}
	}
}

// TestCSVWritesDatesAsText: -o csv writes a report's date as its text, as a
// spreadsheet reads it, and objects as JSON.
func TestCSVWritesDatesAsText(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	r := vtsoar(t, []string{"VT_SERVER_URL=" + e.srv.URL, "VT_API_KEY=k"}, "", "check-file-reputation", "44d88612fea8a8f36de82e1278abb02f", "-o", "csv")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv %v (%v):\n%s", rows, err, r.stdout)
	}
	got := map[string]string{}
	for i, col := range rows[0] {
		got[col] = rows[1][i]
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(got["last_analysis_date"]) {
		t.Errorf("last_analysis_date = %q, want an RFC 3339 date as text", got["last_analysis_date"])
	}
	if !strings.HasPrefix(got["last_analysis_stats"], `{"harmless":`) {
		t.Errorf("last_analysis_stats = %q, want JSON", got["last_analysis_stats"])
	}
}
