package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

func testFiles(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "files", store.Options{Now: clk.Now})
	sum := "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	f := store.StoredFile{ID: "f1", SHA256: sum, Size: 68, Name: "eicar.com", Source: store.FileSourceIncident, Site: "paris", Uploader: "bob"}
	if err := s.CreateFile(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFile(ctx, f); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateFile(same id) err = %v, want ErrExists", err)
	}
	bad := f
	bad.ID, bad.Source = "f2", "email"
	if err := s.CreateFile(ctx, bad); err == nil {
		t.Fatal("CreateFile with an unknown source succeeded")
	}
	same := f
	same.ID, same.Source = "f3", store.FileSourceArtifact
	clk.Advance(time.Second)
	if err := s.CreateFile(ctx, same); err != nil {
		t.Fatalf("a second record of the same content: %v", err)
	}
	got, err := s.GetFile(ctx, "f1")
	if err != nil {
		t.Fatal(err)
	}
	got.CreatedAt = got.CreatedAt.Round(0)
	if got.CreatedAt.IsZero() {
		t.Fatal("CreatedAt not set")
	}
	got.CreatedAt = f.CreatedAt
	if got != f {
		t.Fatalf("GetFile = %+v, want %+v", got, f)
	}
	if _, err := s.GetFile(ctx, "f2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetFile(missing) err = %v", err)
	}

	// Attachments: files of an incident, of its site, with source incident.
	if _, err := s.CreateIncident(ctx, store.Incident{ID: "i1", Site: "paris", Title: "t"}); err != nil {
		t.Fatal(err)
	}
	att := store.StoredFile{ID: "a1", SHA256: sum, Size: 68, Name: "mail.eml", Source: store.FileSourceIncident, Site: "paris", IncidentID: "i1"}
	for _, bad := range []store.StoredFile{
		{ID: "a-site", SHA256: sum, Source: store.FileSourceIncident, Site: "lyon", IncidentID: "i1"},
		{ID: "a-src", SHA256: sum, Source: store.FileSourcePlaybook, Site: "paris", IncidentID: "i1"},
		{ID: "a-none", SHA256: sum, Source: store.FileSourceIncident, Site: "paris", IncidentID: "i-missing"},
	} {
		if err := s.CreateFile(ctx, bad); err == nil {
			t.Errorf("CreateFile(%+v) was accepted", bad)
		}
	}
	clk.Advance(time.Second)
	if err := s.CreateFile(ctx, att); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetFile(ctx, "a1"); err != nil || got.IncidentID != "i1" {
		t.Fatalf("GetFile(attachment) = %+v, %v", got, err)
	}
	if inc, err := s.GetIncident(ctx, "i1"); err != nil || inc.AttachmentCount != 1 {
		t.Fatalf("incident with one attachment = %+v, %v", inc, err)
	}
	clk.Advance(time.Second)
	if err := s.CreateFile(ctx, store.StoredFile{ID: "f4", SHA256: sum, Source: store.FileSourcePlaybook, Site: "lyon"}); err != nil {
		t.Fatal(err)
	}

	// Lists: newest first, by site, source and incident, in pages.
	ids := func(fs []store.StoredFile) string {
		var out []string
		for _, f := range fs {
			out = append(out, f.ID)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		filter store.FileFilter
		want   string
	}{
		{store.FileFilter{}, "f4,a1,f3,f1"},
		{store.FileFilter{Sites: []string{"paris"}}, "a1,f3,f1"},
		{store.FileFilter{Sites: []string{}}, ""},
		{store.FileFilter{Source: store.FileSourceIncident}, "a1,f1"},
		{store.FileFilter{Source: store.FileSourceArtifact}, "f3"},
		{store.FileFilter{Sites: []string{"lyon"}, Source: store.FileSourcePlaybook}, "f4"},
		{store.FileFilter{Incident: "i1"}, "a1"},
		{store.FileFilter{Incident: "i-missing"}, ""},
	} {
		got, err := s.ListFiles(ctx, tc.filter, store.Page{})
		if err != nil || ids(got) != tc.want {
			t.Errorf("ListFiles(%+v) = %s, %v; want %s", tc.filter, ids(got), err, tc.want)
		}
	}
	page := store.Page{Limit: 3}
	first, err := s.ListFiles(ctx, store.FileFilter{}, page)
	if err != nil || ids(first) != "f4,a1,f3" {
		t.Fatalf("first page = %s, %v", ids(first), err)
	}
	page.After = store.NextCursor(page, len(first), first[len(first)-1].Cursor())
	second, err := s.ListFiles(ctx, store.FileFilter{}, page)
	if err != nil || ids(second) != "f1" || !store.NextCursor(page, len(second), second[0].Cursor()).IsZero() {
		t.Fatalf("second page = %s, %v", ids(second), err)
	}
}
