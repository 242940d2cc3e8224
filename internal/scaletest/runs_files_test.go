package scaletest_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/vtsim"
)

// TestFileRunsOnAnotherReplica: two `vtsoar serve` replicas on PostgreSQL share one
// --data-dir; a file is uploaded through the first, which is then killed with
// SIGKILL; through the second, detonate-files asked with Prefer: respond-async
// answers 202 and ends done with the uploaded file detonated, and
// retrieve-widget-html-content ends done with the playbook file it kept named in
// key_fields.FileIDs, readable through the API.
func TestFileRunsOnAnotherReplica(t *testing.T) {
	c := newCluster(t, "", vtsim.Options{}, "VTSOAR_FETCH_POLL=200ms")
	c.sharedData = true
	c.start(2)
	c.addConnection(map[string]any{"name": "emu", "api_key": "emu-key-0123456789", "quota": "premium"})

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("source", "artifact")
	fw, _ := mw.CreateFormFile("file", "dropper.js")
	fw.Write([]byte("var x = 'uploaded to one replica, detonated by another';"))
	mw.Close()
	req, _ := http.NewRequestWithContext(c.ctx, "POST", c.replicas[0].URL+"/api/v1/files", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.api.Token)
	res, err := c.api.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		ID     string `json:"id"`
		SHA256 string `json:"sha256"`
	}
	json.NewDecoder(res.Body).Decode(&file)
	res.Body.Close()
	if res.StatusCode != 201 || file.ID == "" {
		t.Fatalf("upload = %d %+v", res.StatusCode, file)
	}
	c.replicas[0].Kill()
	other := c.replicas[1].URL

	a := c.prefer(other, "detonate-files", "respond-async", map[string]any{"connection": "emu", "file_source": "Artifact File",
		"poll_interval": "50ms", "timeout": "30s", "inputs": []string{file.ID}})
	if a.status != 202 {
		t.Fatalf("detonate-files with respond-async = %d %s", a.status, a.body)
	}
	var r run
	json.Unmarshal(a.body, &r)
	r = c.waitRun(r.ID, 60*time.Second, "done", func(r run) bool { return r.State == "done" || r.State == "failed" })
	checkDone(t, r, 1)

	a = c.prefer(other, "retrieve-widget-html-content", "respond-async", map[string]any{"connection": "emu", "inputs": []string{"8.8.8.8"}})
	if a.status != 202 {
		t.Fatalf("retrieve-widget-html-content with respond-async = %d %s", a.status, a.body)
	}
	json.Unmarshal(a.body, &r)
	r = c.waitRun(r.ID, 60*time.Second, "done", func(r run) bool { return r.State == "done" || r.State == "failed" })
	checkDone(t, r, 1)
	var withFiles struct {
		Envelope struct {
			KeyFields struct {
				FileIDs []string `json:"FileIDs"`
			} `json:"key_fields"`
		} `json:"envelope"`
	}
	if _, err := c.api.Do(c.ctx, "GET", other+"/api/v1/runs/"+r.ID, nil, &withFiles); err != nil {
		t.Fatal(err)
	}
	ids := withFiles.Envelope.KeyFields.FileIDs
	if len(ids) != 1 || ids[0] == "" {
		t.Fatalf("the widget run's FileIDs = %q", ids)
	}
	var kept struct {
		Source string `json:"source"`
		Size   int64  `json:"size"`
	}
	if _, err := c.api.Do(c.ctx, "GET", other+"/api/v1/files/"+ids[0], nil, &kept); err != nil || kept.Source != "playbook" || kept.Size == 0 {
		t.Fatalf("the widget run's file = %+v, %v", kept, err)
	}
}
