package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
)

const (
	sumA = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	sumB = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func testIncidents(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "incidents", store.Options{Now: clk.Now})
	if _, err := s.GetIncident(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIncident(missing) err = %v, want ErrNotFound", err)
	}
	inc, err := s.CreateIncident(ctx, store.Incident{ID: "i1", Site: "paris", Title: "Phishing wave",
		Description: "Mails with an attachment.\n\tSee below.", Creator: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if inc.RiskLevelCode != 4 || !inc.CreatedAt.Equal(t0) || !inc.UpdatedAt.Equal(t0) {
		t.Fatalf("created incident = %+v", inc)
	}
	if _, err := s.CreateIncident(ctx, store.Incident{ID: "i1", Site: "paris", Title: "again"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateIncident(taken id) err = %v, want ErrExists", err)
	}
	for _, bad := range []store.Incident{
		{ID: "", Site: "paris", Title: "no id"},
		{ID: "x1", Site: "paris", Title: "  "},
		{ID: "x2", Site: "paris", Title: "bell\a"},
		{ID: "x3", Site: "paris", Title: strings.Repeat("t", store.MaxIncidentTitle+1)},
		{ID: "x4", Site: "paris", Title: "ok", Description: "escape \x1b[31m"},
	} {
		if _, err := s.CreateIncident(ctx, bad); err == nil {
			t.Errorf("CreateIncident(%+v) was accepted", bad)
		}
	}
	got, err := s.GetIncident(ctx, "i1")
	if err != nil || got.Title != "Phishing wave" || got.Description != inc.Description || got.Creator != "bob" ||
		got.Site != "paris" || got.EventCount != 0 || got.AttachmentCount != 0 {
		t.Fatalf("GetIncident = %+v, %v", got, err)
	}

	// Events of the incident: of its site only, and of an incident that exists.
	clk.Advance(time.Second)
	if _, err := s.CreateEvent(ctx, store.Event{ID: "e-lyon", Site: "lyon", IncidentID: "i1",
		Artifacts: []store.Artifact{{Type: ioc.KindIP, Value: "8.8.8.8"}}}, nil); err == nil {
		t.Fatal("an event of lyon was put in an incident of paris")
	}
	if _, err := s.CreateEvent(ctx, store.Event{ID: "e-none", Site: "paris", IncidentID: "i-missing",
		Artifacts: []store.Artifact{{Type: ioc.KindIP, Value: "8.8.8.8"}}}, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an event of a missing incident: err = %v, want ErrNotFound", err)
	}
	for _, id := range []string{"e1", "e2", "e3"} {
		clk.Advance(time.Second)
		ev, err := s.CreateEvent(ctx, store.Event{ID: id, Site: "paris", IncidentID: "i1", Artifacts: []store.Artifact{
			{Type: ioc.KindIP, Value: "8.8.8.8"}, {Type: ioc.KindDomain, Value: "example.com"}}}, nil)
		if err != nil || ev.IncidentID != "i1" {
			t.Fatalf("CreateEvent(%s) = %+v, %v", id, ev, err)
		}
	}
	if _, err := s.CreateEvent(ctx, store.Event{ID: "e-free", Site: "paris",
		Artifacts: []store.Artifact{{Type: ioc.KindIP, Value: "1.1.1.1"}}}, nil); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListEvents(ctx, store.EventFilter{Incident: "i1"}, store.Page{})
	if err != nil || len(evs) != 3 || evs[0].ID != "e3" || evs[2].ID != "e1" || evs[0].IncidentID != "i1" {
		t.Fatalf("ListEvents(incident i1) = %+v, %v", evs, err)
	}
	if ev, err := s.GetEvent(ctx, "e2"); err != nil || ev.IncidentID != "i1" {
		t.Fatalf("GetEvent(e2) = %+v, %v", ev, err)
	}

	// The incident's risk is the highest of its events' that have a final artifact,
	// recomputed as each artifact finishes.
	steps := []struct {
		event string
		index int
		code  int
		want  int
	}{
		{"e1", 0, 5, 5}, // e1 ZeroRisk: the incident ZeroRisk
		{"e2", 0, 3, 3}, // e2 Low
		{"e1", 1, 2, 2}, // e1 Medium now
		{"e3", 1, 5, 2}, // e3 ZeroRisk: Medium stays
	}
	for _, st := range steps {
		clk.Advance(time.Second)
		if _, _, err := s.FinishArtifact(ctx, st.event, store.Artifact{Index: st.index, Status: store.ArtifactDone, RiskLevelCode: st.code}, minCode); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetIncident(ctx, "i1")
		if err != nil || got.RiskLevelCode != st.want || !got.UpdatedAt.Equal(clk.Now()) {
			t.Fatalf("after %s/%d = %d: incident %+v, %v; want risk %d updated now", st.event, st.index, st.code, got, err, st.want)
		}
	}
	if _, _, err := s.FinishArtifact(ctx, "e-free", store.Artifact{Index: 0, Status: store.ArtifactDone, RiskLevelCode: 1}, minCode); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetIncident(ctx, "i1"); got.RiskLevelCode != 2 || got.EventCount != 3 {
		t.Fatalf("an event of no incident changed the incident: %+v", got)
	}

	// Listing: newest first, by site, in pages.
	for i := range 3 {
		clk.Advance(time.Second)
		if _, err := s.CreateIncident(ctx, store.Incident{ID: fmt.Sprintf("l%d", i), Site: "lyon", Title: "lyon"}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListIncidents(ctx, nil, store.Page{})
	if err != nil || len(all) != 4 || all[0].ID != "l2" || all[3].ID != "i1" || all[3].EventCount != 3 || all[3].RiskLevelCode != 2 {
		t.Fatalf("ListIncidents(all) = %+v, %v", all, err)
	}
	if paris, err := s.ListIncidents(ctx, []string{"paris"}, store.Page{}); err != nil || len(paris) != 1 || paris[0].ID != "i1" {
		t.Fatalf("ListIncidents(paris) = %+v, %v", paris, err)
	}
	if none, err := s.ListIncidents(ctx, []string{}, store.Page{}); err != nil || len(none) != 0 {
		t.Fatalf("ListIncidents(no site) = %+v, %v", none, err)
	}
	var ids []string
	page := store.Page{Limit: 2}
	for range 5 {
		got, err := s.ListIncidents(ctx, nil, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, inc := range got {
			ids = append(ids, inc.ID)
		}
		if len(got) == 0 {
			break
		}
		page.After = store.NextCursor(page, len(got), got[len(got)-1].Cursor())
		if page.After.IsZero() {
			break
		}
	}
	if strings.Join(ids, ",") != "l2,l1,l0,i1" {
		t.Fatalf("incidents page by page = %v", ids)
	}
}

// testIncidentRiskConcurrent: the events of one incident finish at once on several
// handles (replicas): the incident ends with the highest risk of them all, whichever
// transaction commits last.
func testIncidentRiskConcurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	first := open(t, "incrisk", store.Options{})
	handles := []store.Store{open(t, "incrisk", store.Options{}), open(t, "incrisk", store.Options{}), open(t, "incrisk", store.Options{})}
	const rounds, n = 4, 30
	for round := range rounds {
		inc := fmt.Sprint("i", round)
		if _, err := first.CreateIncident(ctx, store.Incident{ID: inc, Site: "s", Title: "t"}); err != nil {
			t.Fatal(err)
		}
		for e := range n {
			if _, err := first.CreateEvent(ctx, store.Event{ID: fmt.Sprint(inc, "e", e), Site: "s", IncidentID: inc,
				Artifacts: []store.Artifact{{Type: ioc.KindIP, Value: "10.0.0.1"}}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for e := range n {
			wg.Go(func() {
				// The first event to be started is High; the others ZeroRisk.
				code := 5
				if e == 0 {
					code = 1
				}
				if _, _, err := handles[e%len(handles)].FinishArtifact(ctx, fmt.Sprint(inc, "e", e),
					store.Artifact{Index: 0, Status: store.ArtifactDone, RiskLevelCode: code}, minCode); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, err := first.GetIncident(ctx, inc)
		if err != nil || got.RiskLevelCode != 1 || got.EventCount != n {
			t.Fatalf("round %d: incident after concurrent finishes = %+v, %v; want High of %d events", round, got, err, n)
		}
	}
}

// testArtifactFiles: a file artifact posted as an uploaded file's id takes the file's
// sha256 and makes the file an artifact file; only a file of the event's site.
func testArtifactFiles(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "artfiles", store.Options{Now: clk.Now})
	for _, f := range []store.StoredFile{
		{ID: "f-mail", SHA256: sumA, Size: 68, Name: "mail.eml", Source: store.FileSourcePlaybook, Site: "paris"},
		{ID: "f-lyon", SHA256: sumB, Size: 0, Name: "x", Source: store.FileSourceArtifact, Site: "lyon"},
	} {
		clk.Advance(time.Second)
		if err := s.CreateFile(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if f, _ := s.GetFile(ctx, "f-mail"); f.Artifact || f.InSource(store.FileSourceArtifact) {
		t.Fatalf("a file no artifact carries is an artifact file: %+v", f)
	}
	var fileErr *store.ArtifactFileError
	for _, id := range []string{"f-lyon", "f-missing"} {
		_, err := s.CreateEvent(ctx, store.Event{ID: "e-" + id, Site: "paris", Artifacts: []store.Artifact{
			{Type: ioc.KindIP, Value: "8.8.8.8"}, {Type: ioc.KindFile, FileID: id}}}, nil)
		if !errors.As(err, &fileErr) || fileErr.Index != 1 || fileErr.FileID != id || !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an artifact of file %s in a paris event: err = %v, want an *ArtifactFileError for artifact 1", id, err)
		}
		if _, err := s.GetEvent(ctx, "e-"+id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the refused event %s was kept: %v", id, err)
		}
	}
	ev, err := s.CreateEvent(ctx, store.Event{ID: "e1", Site: "paris", Artifacts: []store.Artifact{
		{Type: ioc.KindFile, FileID: "f-mail"}, {Type: ioc.KindFile, Value: sumB}}}, nil)
	if err != nil || ev.Artifacts[0].Value != sumA || ev.Artifacts[0].Type != ioc.KindFile || ev.Artifacts[0].FileID != "f-mail" {
		t.Fatalf("CreateEvent with a file artifact = %+v, %v", ev, err)
	}
	full, err := s.GetEvent(ctx, "e1")
	if err != nil || full.Artifacts[0].Value != sumA || full.Artifacts[0].FileID != "f-mail" || full.Artifacts[1].FileID != "" {
		t.Fatalf("GetEvent = %+v, %v", full, err)
	}
	f, err := s.GetFile(ctx, "f-mail")
	if err != nil || !f.Artifact || !f.InSource(store.FileSourceArtifact) || !f.InSource(store.FileSourcePlaybook) ||
		f.InSource(store.FileSourceIncident) || f.Source != store.FileSourcePlaybook {
		t.Fatalf("the file an artifact carries = %+v, %v; want a playbook file that is an artifact file too", f, err)
	}
	arts, err := s.ListFiles(ctx, store.FileFilter{Source: store.FileSourceArtifact}, store.Page{})
	if err != nil || len(arts) != 2 || arts[0].ID != "f-lyon" || arts[1].ID != "f-mail" || !arts[1].Artifact {
		t.Fatalf("ListFiles(artifact) = %+v, %v", arts, err)
	}
	if pb, err := s.ListFiles(ctx, store.FileFilter{Source: store.FileSourcePlaybook}, store.Page{}); err != nil || len(pb) != 1 || pb[0].ID != "f-mail" {
		t.Fatalf("ListFiles(playbook) = %+v, %v", pb, err)
	}
}
