package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

func TestFileSources(t *testing.T) {
	for in, want := range map[string]string{
		"incident": "incident", " Playbook ": "playbook", "ARTIFACT": "artifact",
		"Incident Attachment File": "incident", "playbook file": "playbook", "Artifact File": "artifact",
	} {
		if got, err := store.ParseFileSource(in); err != nil || got != want {
			t.Errorf("ParseFileSource(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "email", "Incident File", "incident\x00", "Artifact  File"} {
		_, err := store.ParseFileSource(in)
		if err == nil {
			t.Errorf("ParseFileSource(%q) was accepted", in)
		} else if strings.ContainsRune(err.Error(), 0) {
			t.Errorf("ParseFileSource(%q): the error holds a NUL: %q", in, err)
		}
	}
	for _, src := range store.FileSources() {
		if got, err := store.ParseFileSource(store.FileSourceLabel(src)); err != nil || got != src {
			t.Errorf("the label of %s reads back as %q, %v", src, got, err)
		}
	}
}

func TestCheckIncident(t *testing.T) {
	for _, tc := range []struct {
		title, description string
		ok                 bool
	}{
		{"Phishing", "", true},
		{"Phishing", "line one\nline two\r\n\tindented", true},
		{"", "", false},
		{" \t", "", false},
		{"bell\a", "", false},
		{"line\nbreak", "", false},
		{strings.Repeat("é", store.MaxIncidentTitle), "", true},
		{strings.Repeat("é", store.MaxIncidentTitle+1), "", false},
		{"t", "escape \x1b[2J", false},
		{"t", "bad \xff utf-8", false},
		{"t", strings.Repeat("d", store.MaxIncidentDescription+1), false},
	} {
		if err := store.CheckIncident(tc.title, tc.description); (err == nil) != tc.ok {
			t.Errorf("CheckIncident(%.20q, %.20q) = %v, want ok %v", tc.title, tc.description, err, tc.ok)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := store.Cursor{CreatedAt: time.Now().UTC().Truncate(time.Microsecond), ID: "inc_01ab.x"}
	got, err := store.ParseCursor(c.String())
	if err != nil || got != c {
		t.Fatalf("ParseCursor(%q) = %+v, %v; want %+v", c.String(), got, err, c)
	}
	if z, err := store.ParseCursor(""); err != nil || !z.IsZero() || (store.Cursor{}).String() != "" {
		t.Fatalf("the empty cursor = %+v, %v", z, err)
	}
	for _, bad := range []string{"%%", "bm90IGEgY3Vyc29y", "MTIz", "MTIzLg", "eC5pZA"} {
		if _, err := store.ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) was accepted", bad)
		}
	}
}

// FuzzParseCursor: any text is a cursor or a clear error, and a cursor read back is
// written the same.
func FuzzParseCursor(f *testing.F) {
	f.Add("")
	f.Add(store.Cursor{CreatedAt: time.Unix(1700000000, 0), ID: "f_0123"}.String())
	f.Add("MTIzLmFiYwA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := store.ParseCursor(s)
		if err != nil {
			return
		}
		again, err := store.ParseCursor(c.String())
		if err != nil || again != c {
			t.Fatalf("ParseCursor(%q) = %+v, which reads back as %+v, %v", s, c, again, err)
		}
	})
}
