package server_test

import (
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/store"
)

// eicarSHA256 is the EICAR test file's sha256, which the emulator serves as a premium
// download.
const eicarSHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"

// command runs a command as user and decodes its envelope (200 expected).
func (e *env) command(t *testing.T, user, name string, body map[string]any) *command.Envelope {
	t.Helper()
	r := e.do(t, "POST", "/api/v1/commands/"+name, user, body)
	if r.status != 200 {
		t.Fatalf("%s as %s = %d %s", name, user, r.status, r.body)
	}
	env := &command.Envelope{}
	r.json(t, env)
	return env
}

// fileIDs returns key_fields.FileIDs of an envelope.
func fileIDs(t *testing.T, env *command.Envelope) []string {
	t.Helper()
	raw, ok := env.KeyFields["FileIDs"].([]any)
	if !ok {
		t.Fatalf("%s: no key_fields.FileIDs: %+v", env.Command, env.KeyFields)
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		out[i], _ = v.(string)
	}
	return out
}

// TestDetonateFilesOfEachSource is D3's Detonate Files over REST from its three file
// sources: an incident with an attachment (an incident attachment file), an event of
// the incident with a file artifact posted as an uploaded file (an artifact file),
// and a premium download kept by download-file (a playbook file); each is detonated
// by its source, a file of another source is not found, the incident's risk is the
// highest of its events', and a user of another site sees none of it.
func TestDetonateFilesOfEachSource(t *testing.T) {
	const premiumKey = "premium-key-of-the-emulator-0123456789"
	e := newEnv(t, envOpts{enrich: true, premiumKeys: []string{premiumKey}})
	e.addConnection(t, "prem", e.sealKey(t, "prem", premiumKey), "premium")
	e.addConnection(t, "pub", e.sealKey(t, "pub", premiumKey), "public")

	// An incident of paris, with an attachment streamed to the file store.
	r := e.do(t, "POST", "/api/v1/incidents", "paris", map[string]any{"title": "Phishing wave", "description": "Invoices.\nSee the attachment."})
	if r.status != 201 {
		t.Fatalf("POST incident = %d %s", r.status, r.body)
	}
	var inc store.IncidentView
	r.json(t, &inc)
	if inc.Site != "paris" || inc.Creator != "paris" || inc.RiskLevel != "N/A" || r.header.Get("Location") != "/api/v1/incidents/"+inc.ID {
		t.Fatalf("created incident = %+v (Location %q)", inc, r.header.Get("Location"))
	}
	r = e.attach(t, inc.ID, "paris", "invoice.pdf.exe", []byte("an attachment of the phishing mail\x00"))
	var attachment store.FileView
	r.json(t, &attachment)
	if r.status != 201 || attachment.Source != "incident" || attachment.IncidentID != inc.ID || attachment.Site != "paris" || attachment.Name != "invoice.pdf.exe" {
		t.Fatalf("attachment = %d %+v", r.status, attachment)
	}

	// An uploaded artifact file, posted as the content of a file artifact of an event
	// of the incident; another event of it carries the EICAR hash.
	r = e.upload(t, "paris", "dropper.js", []byte("var x = 'an artifact carried as content';"), map[string]string{"source": "Artifact File"})
	var artifact store.FileView
	r.json(t, &artifact)
	if r.status != 201 || artifact.Source != "artifact" {
		t.Fatalf("artifact upload = %d %s", r.status, r.body)
	}
	r = e.do(t, "POST", "/api/v1/events", "paris", map[string]any{"incident_id": inc.ID, "artifacts": []map[string]string{
		{"type": "file", "file_id": artifact.ID}, {"type": "domain", "value": "example.com"}}})
	if r.status != 201 {
		t.Fatalf("POST event with a file artifact = %d %s", r.status, r.body)
	}
	var evA eventJSON
	r.json(t, &evA)
	r = e.do(t, "POST", "/api/v1/events", "paris", map[string]any{"incident_id": inc.ID, "artifacts": []map[string]string{
		{"type": "file", "value": eicarMD5}}})
	var evB eventJSON
	r.json(t, &evB)
	doneA, doneB := e.waitEvent(t, evA.ID, "paris"), e.waitEvent(t, evB.ID, "paris")
	if a := doneA.Artifacts[0]; a.Value != artifact.SHA256 || a.Status != "done" || a.RiskReason == "" {
		t.Fatalf("the file artifact = %+v, want its file's sha256 %s checked", a, artifact.SHA256)
	}
	if doneB.RiskLevel != "High" {
		t.Fatalf("the EICAR event's risk = %s", doneB.RiskLevel)
	}
	var got store.IncidentView
	e.do(t, "GET", "/api/v1/incidents/"+inc.ID, "paris", nil).json(t, &got)
	want := min(doneA.RiskLevelCode, doneB.RiskLevelCode)
	if got.RiskLevelCode != want || got.RiskLevel != "High" || got.EventsTotal != 2 || got.AttachmentsTotal != 1 {
		t.Fatalf("incident = %+v; want the highest risk of its events (%d and %d), 2 events, 1 attachment", got, doneA.RiskLevelCode, doneB.RiskLevelCode)
	}
	var events struct {
		Events []struct {
			ID         string `json:"id"`
			IncidentID string `json:"incident_id"`
		} `json:"events"`
	}
	e.do(t, "GET", "/api/v1/events?incident="+inc.ID, "paris", nil).json(t, &events)
	if len(events.Events) != 2 || events.Events[0].ID != evB.ID || events.Events[1].IncidentID != inc.ID {
		t.Fatalf("the incident's events = %+v", events)
	}

	// A premium download, kept as a playbook file of paris; on a public budget it is
	// refused before anything is sent.
	before := e.sim.Stats().ByEndpoint["GET /files/{id}/download"]
	p := e.do(t, "POST", "/api/v1/commands/download-file", "admin", map[string]any{"connection": "pub", "inputs": []string{eicarMD5}}).problem(t, 400)
	if !strings.Contains(p.Detail, "premium") || e.sim.Stats().ByEndpoint["GET /files/{id}/download"] != before {
		t.Fatalf("download-file on a public budget: %q, or a request was sent", p.Detail)
	}
	env := e.command(t, "admin", "download-file", map[string]any{"connection": "prem", "site": "paris",
		"inputs": []string{eicarMD5, strings.Repeat("0", 64)}})
	ids := fileIDs(t, env)
	if env.ReturnData != command.PartiallySuccessful || len(ids) != 2 || ids[0] == "" || ids[1] != "" {
		t.Fatalf("download-file = %s, FileIDs %q", env.ReturnData, ids)
	}
	var playbook store.FileView
	e.do(t, "GET", "/api/v1/files/"+ids[0], "paris", nil).json(t, &playbook)
	if playbook.Source != "playbook" || playbook.SHA256 != eicarSHA256 || playbook.Site != "paris" || playbook.Size != 68 {
		t.Fatalf("the downloaded file = %+v", playbook)
	}

	// The widget's HTML stays in its entry and is kept as a playbook file too.
	env = e.command(t, "paris", "retrieve-widget-html-content", map[string]any{"connection": "emu", "inputs": []string{"8.8.8.8"}})
	wf, ok := env.ContextData[0].Fields.(*command.WidgetFields)
	if ids := fileIDs(t, env); !ok || wf.HTML == nil || len(ids) != 1 || ids[0] == "" || wf.FileID != ids[0] {
		t.Fatalf("widget over REST = %+v, FileIDs %v", env.ContextData[0], ids)
	}
	var widget store.FileView
	e.do(t, "GET", "/api/v1/files/"+wf.FileID, "paris", nil).json(t, &widget)
	if widget.Source != "playbook" || widget.Size != int64(len(*wf.HTML)) || !strings.HasSuffix(widget.Name, ".html") {
		t.Fatalf("the widget's file = %+v", widget)
	}

	// Listing the files by source and by incident.
	for _, tc := range []struct{ query, want string }{
		{"?incident=" + inc.ID, attachment.ID},
		{"?source=artifact", artifact.ID},
		{"?source=Playbook%20File", widget.ID + "," + playbook.ID},
		{"?source=incident&incident=" + inc.ID, attachment.ID},
		{"", strings.Join([]string{widget.ID, playbook.ID, artifact.ID, attachment.ID}, ",")},
		{"?limit=1", widget.ID},
	} {
		var list struct {
			Files []store.FileView `json:"files"`
		}
		e.do(t, "GET", "/api/v1/files"+tc.query, "paris", nil).json(t, &list)
		var got []string
		for _, f := range list.Files {
			got = append(got, f.ID)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("GET /api/v1/files%s = %v, want %s", tc.query, got, tc.want)
		}
	}

	// Each file detonated by its source (D3's labels or the names).
	fast := map[string]any{"connection": "emu", "poll_interval": "10ms", "timeout": "20s"}
	detonate := func(user, source string, inputs ...string) *command.Envelope {
		t.Helper()
		body := map[string]any{"inputs": inputs}
		if source != "" {
			body["file_source"] = source
		}
		for k, v := range fast {
			body[k] = v
		}
		return e.command(t, user, "detonate-files", body)
	}
	for _, tc := range []struct {
		source string
		file   store.FileView
	}{
		{"Incident Attachment File", attachment},
		{"artifact", artifact},
		{"Playbook File", playbook},
	} {
		env := detonate("paris", tc.source, tc.file.ID)
		if env.ReturnData != command.Successful || env.ContextData[0].ID != tc.file.SHA256 {
			t.Errorf("detonate %s from %s = %s %+v %+v", tc.file.ID, tc.source, env.ReturnData, env.ContextData, env.Errors)
		}
	}
	if env := detonate("paris", "playbook", playbook.ID); env.ContextData[0].RiskLevel != "High" {
		t.Errorf("the EICAR playbook file detonated: %s", env.ContextData[0].RiskLevel)
	}
	// A file of another source than the one named is not found, in D3's words.
	env = detonate("paris", "playbook", attachment.ID, playbook.ID)
	if env.ReturnData != command.PartiallySuccessful || env.Errors[0].Message != "File ID Not Found." ||
		env.Errors[0].FailureIndicator != "Detonate Files failed." || env.Errors[0].StatusCode != 404 {
		t.Fatalf("an incident file detonated as a playbook file = %s %+v", env.ReturnData, env.Errors)
	}

	// A user of another site sees none of it: 404 as for what does not exist.
	for _, path := range []string{"/api/v1/incidents/" + inc.ID, "/api/v1/events/" + evA.ID, "/api/v1/events?incident=" + inc.ID,
		"/api/v1/files?incident=" + inc.ID, "/api/v1/files/" + attachment.ID, "/api/v1/files/" + artifact.ID, "/api/v1/files/" + playbook.ID} {
		e.do(t, "GET", path, "lyon", nil).problem(t, 404)
	}
	if r := e.attach(t, inc.ID, "lyon", "x", []byte("x")); r.status != 404 {
		t.Errorf("lyon attaching to a paris incident = %d %s", r.status, r.body)
	}
	e.do(t, "POST", "/api/v1/events", "lyon", map[string]any{"incident_id": inc.ID,
		"artifacts": []map[string]string{{"type": "ip", "value": "8.8.8.8"}}}).problem(t, 404)
	p = e.do(t, "POST", "/api/v1/events", "lyon", map[string]any{"artifacts": []map[string]string{{"type": "file", "file_id": artifact.ID}}}).problem(t, 400)
	if !strings.Contains(p.Detail, artifact.ID) {
		t.Errorf("lyon posting paris' file as an artifact: %q", p.Detail)
	}
	var lists struct {
		Incidents []store.IncidentView `json:"incidents"`
		Files     []store.FileView     `json:"files"`
	}
	e.do(t, "GET", "/api/v1/incidents", "lyon", nil).json(t, &lists)
	e.do(t, "GET", "/api/v1/files", "lyon", nil).json(t, &lists)
	if len(lists.Incidents) != 0 || len(lists.Files) != 0 {
		t.Errorf("lyon lists %d incidents and %d files of paris", len(lists.Incidents), len(lists.Files))
	}
	for _, src := range []string{"incident", "artifact", "playbook", ""} {
		env := detonate("lyon", src, attachment.ID, artifact.ID, playbook.ID)
		if env.ReturnData != command.Failed || len(env.Errors) != 3 || env.Errors[2].Message != "File ID Not Found." {
			t.Errorf("lyon detonating paris' files (source %q) = %s %+v", src, env.ReturnData, env.Errors)
		}
	}
}
