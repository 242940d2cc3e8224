package console_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/server"
)

// multipart posts a multipart form of fields, in order, and, when content is not nil,
// a "file" part named name after them.
func (b *browser) multipart(path string, fields [][2]string, name string, content []byte) page {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	if content != nil {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(content)
	}
	mw.Close()
	req, err := http.NewRequest("POST", b.base+path, &buf)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.send(req)
}

var fileIDRE = regexp.MustCompile(`f_[0-9a-f]{24}`)

// TestIncidentsAndDetonateThroughTheAPI: the incident pages create an incident, attach
// a file (streamed through the API, behind the form's CSRF token) and post an event
// to it; the detonate page lists a source's files, takes an upload, and shows the
// envelope; another site's incident is not there.
func TestIncidentsAndDetonateThroughTheAPI(t *testing.T) {
	const limit = 1024
	e := newEnvOpts(t, envOpts{server: func(c *server.Config) { c.MaxFileSize = limit }})
	b := e.browser(t)
	b.login(e.tokens["admin"])
	e.addConnection(t, "emu")

	form := b.get("/incidents")
	if form.status != 200 || !strings.Contains(form.body, "No incidents") {
		t.Fatalf("/incidents = %d %.1000s", form.status, form.body)
	}
	r := b.do("POST", "/incidents", url.Values{"csrf": {form.csrf(t)}, "title": {""}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "incident title") {
		t.Fatalf("an incident without a title = %d %.1500s", r.status, r.body)
	}
	r = b.do("POST", "/incidents", url.Values{"csrf": {form.csrf(t)}, "title": {"Phishing wave"}, "description": {"Invoices."}})
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/incidents/inc_") {
		t.Fatalf("create incident = %d %q %.1000s", r.status, loc, r.body)
	}
	incPath := strings.TrimSuffix(loc, "?created")
	p := b.get(loc)
	if !strings.Contains(p.body, "Incident created") || !strings.Contains(p.body, `id="incident-risk" class="risk risk-na">N/A`) {
		t.Fatalf("the new incident's page: %.3000s", p.body)
	}
	csrf := p.csrf(t)

	// Attachments: the CSRF token first, else nothing is read; over the limit: said.
	for _, fields := range [][][2]string{nil, {{"csrf", "forged"}}} {
		if r := b.multipart(incPath+"/attachments", fields, "x.bin", []byte("x")); r.status != http.StatusForbidden {
			t.Errorf("an attachment with csrf %v = %d", fields, r.status)
		}
	}
	r = b.multipart(incPath+"/attachments", [][2]string{{"csrf", csrf}}, "big.bin", bytes.Repeat([]byte("A"), limit+1))
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "larger than the limit") {
		t.Fatalf("a file over the limit = %d %.2000s", r.status, r.body)
	}
	r = b.multipart(incPath+"/attachments", [][2]string{{"csrf", csrf}}, "invoice.pdf.exe", []byte("an attachment\x00"))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != incPath+"?attached" {
		t.Fatalf("attach = %d %q %.2000s", r.status, r.header.Get("Location"), r.body)
	}
	p = b.get(incPath)
	attachment := fileIDRE.FindString(p.body)
	if !strings.Contains(p.body, "invoice.pdf.exe") || attachment == "" || !strings.Contains(p.body, "Attachments (1)") {
		t.Fatalf("the incident's attachments: %.3000s", p.body)
	}

	// An event of the incident.
	r = b.do("POST", incPath+"/events", url.Values{"csrf": {csrf}, "artifacts": {eicarMD5}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/events/ev_") {
		t.Fatalf("posting an event of the incident = %d %.1500s", r.status, r.body)
	}
	waitPage(t, b, incPath, `id="incident-risk" class="risk risk-high">High`)

	// The detonate page: the incident's attachment among the incident attachment
	// files, ticked when asked; detonated, with the envelope's tabs.
	p = b.get("/detonate?source=Incident%20Attachment%20File&file=" + attachment)
	if !strings.Contains(p.body, `value="`+attachment+`" id="pick-`+attachment+`" checked`) {
		t.Fatalf("the detonate page does not offer the attachment ticked: %.4000s", p.body)
	}
	dcsrf := p.csrf(t)
	fast := [][2]string{{"csrf", dcsrf}, {"source", "incident"}, {"connection", "emu"}, {"poll_interval", "10ms"}}
	r = b.multipart("/detonate", append(fast, [2]string{"file_id", attachment}), "", nil)
	if r.status != 200 || !strings.Contains(r.body, `id="return-data" class="rd rd-ok">Successful`) {
		t.Fatalf("detonating the attachment = %d %.4000s", r.status, r.body)
	}
	// An upload there is kept with the source chosen, then detonated.
	r = b.multipart("/detonate", [][2]string{{"csrf", dcsrf}, {"source", "artifact"}, {"connection", "emu"}, {"poll_interval", "10ms"}},
		"dropper.js", []byte("var dropped = true;"))
	if r.status != 200 || !strings.Contains(r.body, `rd-ok">Successful`) || !strings.Contains(r.body, "dropper.js") {
		t.Fatalf("detonating an upload = %d %.4000s", r.status, r.body)
	}
	// Nothing ticked and nothing uploaded: said, nothing run.
	r = b.multipart("/detonate", [][2]string{{"csrf", dcsrf}, {"source", "playbook"}, {"connection", "emu"}}, "", nil)
	if r.status != 200 || !strings.Contains(r.body, "Tick at least one playbook file") || strings.Contains(r.body, `id="result"`) {
		t.Fatalf("detonating nothing = %d %.3000s", r.status, r.body)
	}

	// Another site's analyst sees none of it.
	a := e.browser(t)
	a.login(e.tokens["analyst"])
	if p := a.get(incPath); p.status != http.StatusNotFound {
		t.Errorf("the analyst of paris on a default incident = %d", p.status)
	}
	if p := a.get("/incidents"); p.status != 200 || strings.Contains(p.body, strings.TrimPrefix(incPath, "/incidents/")) {
		t.Error("the analyst of paris lists a default incident")
	}
	if p := a.get("/detonate?source=incident"); strings.Contains(p.body, attachment) {
		t.Error("the analyst of paris is offered a default attachment")
	}
}
