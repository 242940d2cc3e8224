package console_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/export/misp"
	"github.com/vtsoar/vtsoar/internal/export/stix/stixtest"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
)

// incident is what an analyst pastes: a forwarded phish with the SOC's notes.
const incident = `Fwd: [EXT] Overdue invoice 4471
From: "Accounts" <billing[at]invoices-d3sk[.]com>

Hi team, three users clicked hxxps://invoices-d3sk[.]com/pay?ref=991 this morning.
The page dropped invoice.zip (md5 44d88612fea8a8f36de82e1278abb02f) which beacons to
45.61.136(.)22:443. Proxy: src=10.4.4.20 dst=45.61.136.22. Also seen: invoices-d3sk(.)com.
Signature: https://www.microsoft.com/en-us/servicesagreement`

// addConnection stores a connection to the emulator that every user may use.
func (e *env) addConnection(t *testing.T, name string) {
	t.Helper()
	sealed, err := connclient.SealKey(e.cipher, name, simAPIKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateConnection(context.Background(), store.Connection{Name: name, SealedAPIKey: sealed, ServerURL: e.simURL,
		Quota: "premium", ReputationChecks: []ioc.Kind{ioc.KindFile}}); err != nil {
		t.Fatal(err)
	}
}

func TestLookupPageAndExports(t *testing.T) {
	e := newEnv(t)
	e.addConnection(t, "emu")
	b := e.browser(t)
	b.login(e.tokens["analyst"])
	p := b.get("/lookup")
	if p.status != 200 || !strings.Contains(p.body, `id="lookup-form"`) || !strings.Contains(p.body, `aria-current="page">Lookup`) {
		t.Fatalf("lookup page %d: %.500s", p.status, p.body)
	}
	form := url.Values{"csrf": {p.csrf(t)}, "connection": {"emu"}, "text": {incident}, "mode": {"extract"}}
	r := b.do("POST", "/lookup", form)
	body := html.UnescapeString(r.body)
	for _, want := range []string{`id="lookup-table"`, "hxxps://invoices-d3sk[.]com/pay?ref=991", eicarMD5, "45.61.136(.)22", "invoices-d3sk(.)com",
		`id="skipped"`, "10.4.4.20", "private address (RFC 1918)", "e-mail address", "well-known benign domain (microsoft.com)", `id="export-stix"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the result page lacks %q", want)
		}
	}
	if strings.Count(body, `<tr class="st-ok">`) != 4 {
		t.Errorf("%d rows ok, want 4", strings.Count(body, `<tr class="st-ok">`))
	}

	// The downloads: the same lookup as a STIX bundle and as a MISP event.
	form.Set("format", "stix")
	r = b.do("POST", "/lookup/export", form)
	if r.status != 200 || r.header.Get("Content-Type") != "application/stix+json;version=2.1" || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("STIX download %d %v: %.300s", r.status, r.header, r.body)
	}
	if err := stixtest.Validate([]byte(r.body)); err != nil {
		t.Errorf("the STIX download is not valid STIX 2.1: %v", err)
	}
	form.Set("format", "misp")
	r = b.do("POST", "/lookup/export", form)
	var d misp.Document
	if err := json.Unmarshal([]byte(r.body), &d); err != nil || r.status != 200 || len(d.Event.Object) != 4 {
		t.Errorf("MISP download %d (%v): %.300s", r.status, err, r.body)
	}
	form.Set("format", "pdf")
	if r = b.do("POST", "/lookup/export", form); r.status != http.StatusBadRequest {
		t.Errorf("export as pdf: %d", r.status)
	}
}

// TestLookupInBrowser pastes an incident into the lookup page in headless Chromium.
func TestLookupInBrowser(t *testing.T) {
	e := newEnv(t)
	e.addConnection(t, "emu")
	c := newChrome(t, e.srv.URL)
	c.signIn(e.tokens["analyst"])
	c.do(chromedp.Click(chromedp.CSS(`nav a[href="/lookup"]`)), chromedp.WaitVisible(chromedp.ID("lookup-form")))
	c.do(chromedp.SetValue(chromedp.ID("text"), incident), chromedp.Click(chromedp.ID("lookup")),
		chromedp.WaitVisible(chromedp.ID("lookup-table")))
	rows := c.js(`Array.from(document.querySelectorAll("#lookup-table tbody tr:not(.st-skipped)")).map(r => Array.from(r.cells).map(td => td.textContent.trim()).slice(1, 4).join("|")).join("\n")`)
	lines := strings.Split(rows, "\n")
	if len(lines) != 4 || lines[0] != "hxxps://invoices-d3sk[.]com/pay?ref=991|url|"+riskOf(lines[0]) ||
		!strings.HasPrefix(lines[1], eicarMD5+"|file|High") || !strings.HasPrefix(lines[2], "45.61.136(.)22|ip|") ||
		!strings.HasPrefix(lines[3], "invoices-d3sk(.)com|domain|") {
		t.Errorf("lookup rows (found as|type|risk):\n%s", rows)
	}
	// The observables not looked up keep their rows, with why.
	skippedRows := c.js(`Array.from(document.querySelectorAll("#lookup-table tbody tr.st-skipped")).map(r => Array.from(r.cells).map(td => td.textContent.trim()).slice(1, 5).join("|")).join("\n")`)
	if !strings.Contains(skippedRows, "10.4.4.20|ip|N/A|Not looked up: private address (RFC 1918)") || strings.Count(skippedRows, "\n") != 1 {
		t.Errorf("skipped rows (found as|type|risk|why):\n%s", skippedRows)
	}
	if got := c.js(`document.querySelector("#lookup-table .risk-high") ? "yes" : "no"`); got != "yes" {
		t.Error("no High badge")
	}
	skipped := c.text("#skipped")
	for _, want := range []string{"10.4.4.20", "private address (RFC 1918)", "billing[at]invoices-d3sk[.]com", "microsoft.com"} {
		if !strings.Contains(skipped, want) {
			t.Errorf("the skipped table lacks %q:\n%s", want, skipped)
		}
	}
	if got := c.text("#summary"); !strings.Contains(got, "4 looked up") || !strings.Contains(got, "1 High") || !strings.Contains(got, "3 not looked up") {
		t.Errorf("summary %q", got)
	}
	if n := c.js(`String(document.querySelectorAll("#exports button").length)`); n != "2" {
		t.Errorf("%s export buttons", n)
	}
	c.shot("lookup")

	// One per line: a bad line is an error of its own, the others still run.
	c.open("/lookup", "#lookup-form")
	c.do(chromedp.Click(chromedp.ID("mode-lines")), chromedp.SetValue(chromedp.ID("text"), "8.8.8.8\nnot an observable\n"+eicarMD5),
		chromedp.Click(chromedp.ID("lookup")), chromedp.WaitVisible(chromedp.ID("lookup-table")),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#lookup-table tbody tr").length === 3`, chromedp.WithPollingTimeout(5*time.Second)))
	if got := c.text("#return-data"); got != "Partially Successful" {
		t.Errorf("return data %q", got)
	}
	if got := c.text("#lookup-table tbody tr.st-error"); !strings.Contains(got, "Invalid Input.") {
		t.Errorf("error row %q", got)
	}
	c.shot("lookup-lines")
}

// riskOf returns the risk cell of a row (the URL's level depends on the emulator's
// universe, not on the page).
func riskOf(row string) string {
	parts := strings.Split(row, "|")
	return parts[len(parts)-1]
}
