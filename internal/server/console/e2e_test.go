package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/store"
)

// chromiumPath returns the system Chromium, or skips the test (fails it under CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "Chromium is not installed (Debian: apt-get install chromium); the browser tests of the console need it"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// chrome drives one headless Chromium.
type chrome struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	n     int
}

func newChrome(t *testing.T, base string) *chrome {
	t.Helper()
	path := chromiumPath(t)
	// The screenshots go to the test's artifact directory (kept with go test
	// -artifacts -outputdir DIR), or to $VTSOAR_SCREENSHOTS.
	shots := os.Getenv("VTSOAR_SCREENSHOTS")
	if shots == "" {
		shots = t.ArtifactDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return &chrome{t: t, ctx: ctx, base: base, shots: shots}
}

// do runs steps, failing the test after 20 seconds.
func (c *chrome) do(steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.failed(err)
	}
}

// failed ends the test with err, the page's address and text, and a screenshot.
func (c *chrome) failed(err error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		p := filepath.Join(c.shots, "failure.png")
		os.WriteFile(p, png, 0o644)
		c.t.Logf("screenshot %s", p)
	}
	c.t.Fatalf("browser: %v\nat %s:\n%.1500s", err, c.location(), body)
}

func (c *chrome) location() string {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// run runs one action that returns a value.
func run[T any](c *chrome, a chromedp.Action[T]) T {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		c.failed(err)
	}
	return v
}

func (c *chrome) text(sel string) string {
	c.t.Helper()
	return strings.TrimSpace(run(c, chromedp.Text(chromedp.CSS(sel))))
}

func (c *chrome) js(expr string) string {
	c.t.Helper()
	return run(c, chromedp.Evaluate[string](expr))
}

func (c *chrome) open(path, waitFor string) {
	c.t.Helper()
	c.do(chromedp.Navigate(c.base+path), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

// shot saves a screenshot of the whole page as PNG.
func (c *chrome) shot(name string) {
	c.t.Helper()
	png := run(c, chromedp.FullScreenshot(100))
	c.n++
	p := filepath.Join(c.shots, fmt.Sprintf("%02d-%s.png", c.n, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("screenshot %s", p)
}

func (c *chrome) signIn(token string) {
	c.t.Helper()
	c.open("/", "#token")
	c.do(chromedp.SetValue(chromedp.ID("token"), token), chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.who`)))
}

func (c *chrome) signOut() {
	c.t.Helper()
	c.do(chromedp.Click(chromedp.CSS(`form.who button`)), chromedp.WaitVisible(chromedp.ID("token")))
}

// TestConsoleInBrowser drives the console in headless Chromium against the real
// service: sign in, add and test a connection, run a command and read its tabs, post
// an event and watch its risk appear, the quota chart, a widget in its sandbox, and an
// analyst kept out of the admin pages.
func TestConsoleInBrowser(t *testing.T) {
	e := newEnv(t)
	c := newChrome(t, e.srv.URL)

	// Sign in.
	c.open("/", "#token")
	c.shot("sign-in")
	c.signIn(e.tokens["admin"])
	if got := c.text("form.who span"); !strings.Contains(got, "admin") {
		t.Fatalf("signed in as %q", got)
	}
	c.shot("overview")

	// Add a connection.
	c.open("/connections", "main")
	if got := c.text("p.empty"); !strings.Contains(got, "Add the first one") {
		t.Errorf("empty connections page says %q", got)
	}
	c.do(chromedp.Click(chromedp.CSS(`a[href="/connections/new"].button`)), chromedp.WaitVisible(chromedp.ID("connection-form")))
	c.do(chromedp.SetValue(chromedp.ID("name"), "emu"),
		chromedp.SetValue(chromedp.ID("description"), "The offline emulator"),
		chromedp.SetValue(chromedp.ID("api_key"), simAPIKey),
		chromedp.SetValue(chromedp.ID("server_url"), e.simURL),
		chromedp.SetValue(chromedp.ID("quota"), "premium"),
		chromedp.SetValue(chromedp.ID("health_check_minutes"), "15"))
	c.shot("connection-form")
	c.do(chromedp.Click(chromedp.CSS(`#connection-form button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("test-connection")))
	if got := c.text("p.notice"); !strings.Contains(got, "Connection created") {
		t.Errorf("notice after create = %q", got)
	}

	// Test it: pass, with the quota left.
	c.do(chromedp.Click(chromedp.ID("test-connection")), chromedp.WaitVisible(chromedp.ID("test-result")))
	res := c.text("#test-result")
	if !strings.Contains(res, "Test passed") || !strings.Contains(res, "Quota left") {
		t.Errorf("test result = %q", res)
	}
	c.shot("connection-tested")
	c.open("/connections", "#connections")
	if got := c.text("#connections tbody tr td:nth-child(4)"); got != "Healthy" {
		t.Errorf("health in the list = %q", got)
	}
	c.shot("connections")

	// The relationship list follows the command chosen (the picker submits itself).
	c.open("/run", "#run-form")
	// One script both chooses and fires "change", as a person's pick does: the page then
	// navigates, so nothing may touch the old document afterwards.
	c.do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("pick-command");
		s.value = "get-ip-relationships"; s.dispatchEvent(new Event("change")); })()`),
		chromedp.WaitVisible(chromedp.ID("relationship")))
	opts := c.js(`Array.from(document.querySelectorAll("#relationship option")).map(o => o.value).join(",")`)
	if !strings.Contains(opts, "communicating_files") || !strings.Contains(opts, "resolutions") || strings.Contains(opts, "contacted_ips") {
		t.Errorf("relationships of an IP = %s", opts)
	}

	// Run check-file-reputation with a mix of inputs and read every tab.
	c.open("/run?command=check-file-reputation", "#run-form")
	c.do(chromedp.SetValue(chromedp.ID("inputs"), eicarMD5+"\n"+badHash+"\n# a comment\n"+zeroSHA+"\n"),
		chromedp.Click(chromedp.ID("run")), chromedp.WaitVisible(chromedp.ID("result")))
	if got := c.text("#return-data"); got != "Partially Successful" {
		t.Errorf("return data = %q", got)
	}
	c.shot("run-return-data")
	visible := func() string {
		return c.js(`Array.from(document.querySelectorAll(".tab-panel")).filter(p => !p.hidden).map(p => p.id).join(",")`)
	}
	c.do(chromedp.Click(chromedp.ID("t-keys")))
	if v := visible(); v != "tab-keys" {
		t.Errorf("after clicking Key Fields, visible panels = %q", v)
	}
	if got := c.js(`Array.from(document.querySelectorAll("#tab-keys .risk")).map(b => b.textContent + "/" + b.className).join(" ")`); got != "High/risk risk-high N/A/risk risk-na N/A/risk risk-na" {
		t.Errorf("key fields risk badges = %q", got)
	}
	c.shot("run-key-fields")
	c.do(chromedp.Click(chromedp.ID("t-context")))
	rows := c.js(`Array.from(document.querySelectorAll("#context-data tbody tr")).map(r => Array.from(r.cells).map(td => td.textContent.trim()).join("|")).join("\n")`)
	lines := strings.Split(rows, "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], eicarMD5+"|ok|file|High|") || !strings.Contains(lines[0], "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f") ||
		!strings.Contains(lines[1], badHash+"|error") || !strings.Contains(lines[1], "32 hex") ||
		!strings.Contains(lines[2], zeroSHA+"|error") || !strings.Contains(lines[2], "Not Found") {
		t.Errorf("context data rows:\n%s", rows)
	}
	c.shot("run-context-data")
	c.do(chromedp.Click(chromedp.ID("t-raw")))
	if raw := c.text("#tab-raw pre.json"); !strings.Contains(raw, `"last_analysis_stats"`) || !strings.Contains(raw, "\n  ") {
		t.Errorf("raw data is not VirusTotal's pretty JSON: %.200s", raw)
	}
	c.shot("run-raw-data")
	c.do(chromedp.Click(chromedp.ID("t-errors")))
	errs := c.js(`Array.from(document.querySelectorAll("#errors tbody tr")).map(r => Array.from(r.cells).map(td => td.textContent.trim()).join("|")).join("\n")`)
	if el := strings.Split(errs, "\n"); len(el) != 2 || !strings.Contains(el[0], badHash+"|Check File Reputation failed.|400") ||
		!strings.Contains(el[1], zeroSHA+"|Check File Reputation failed.|404|NotFoundError|File Not Found.") {
		t.Errorf("errors tab:\n%s", errs)
	}
	c.shot("run-errors")

	// Post an event and watch its risk appear, the page refreshing by itself.
	c.open("/events", "#event-form")
	if got := c.text("p.empty"); !strings.Contains(got, "No events") {
		t.Errorf("empty events page says %q", got)
	}
	c.do(chromedp.SetValue(chromedp.ID("artifacts"), eicarMD5+"\n"+slowIP+"\nvtsoar.net"),
		chromedp.Click(chromedp.ID("post-event")), chromedp.WaitVisible(chromedp.ID("event")))
	if st := c.js(`document.getElementById("event").dataset.status`); st == "done" {
		t.Fatalf("the event is done before its slow artifact was answered")
	}
	c.shot("event-in-progress")
	// The page updates itself in place (no reload: the marker survives) until done.
	c.do(chromedp.Evaluate[chromedp.Void](`window.stillHere = true`),
		chromedp.Poll[chromedp.Void](`document.getElementById("event").dataset.status === "done"`, chromedp.WithPollingTimeout(15*time.Second)))
	if c.js(`String(window.stillHere === true)`) != "true" {
		t.Error("the event page reloaded instead of updating itself")
	}
	if got := c.text("#event-risk"); got != "High" {
		t.Errorf("event risk = %q", got)
	}
	arts := c.js(`Array.from(document.querySelectorAll("#artifacts tbody tr")).map(r => r.cells[1].textContent + "=" + r.cells[3].textContent.trim() + ":" + (r.cells[4].textContent.trim() !== "")).join(",")`)
	if !strings.HasPrefix(arts, eicarMD5+"=High:true,"+slowIP+"=") || strings.Count(arts, ":true") != 3 {
		t.Errorf("artifacts (value=risk:has reason) = %s", arts)
	}
	c.shot("event-done")
	c.open("/events", "#events")
	c.shot("events")

	// Quota: windows and the chart of the last 24 hours.
	c.open("/quota", "svg.chart")
	if n := c.js(`String(document.querySelectorAll("#quota-emu svg.chart rect.bar").length)`); n != "24" {
		t.Errorf("chart bars = %s", n)
	}
	if last := c.js(`document.querySelector("#quota-emu svg.chart rect.bar:last-of-type title").textContent`); strings.HasSuffix(last, ": 0 requests") {
		t.Errorf("the current hour shows no request: %q", last)
	}
	// Who spent it: the console's user (its commands) and the enrichment (the event).
	if who := c.js(`Array.from(document.querySelectorAll("#quota-emu table.requesters tbody tr")).map(r => r.cells[0].textContent).join(",")`); !strings.Contains(who, "enrichment") || !strings.Contains(who, "user:") {
		t.Errorf("requesters on the quota page = %q, want the enrichment and a user", who)
	}
	c.shot("quota")

	// A widget runs in a sandbox: its script neither reaches the console nor runs.
	c.open("/run?command=retrieve-widget-html-content", "#run-form")
	title := c.js(`document.title`)
	c.do(chromedp.SetValue(chromedp.ID("inputs"), eicarMD5), chromedp.Click(chromedp.ID("run")),
		chromedp.WaitVisible(chromedp.ID("result")), chromedp.Click(chromedp.ID("t-context")),
		chromedp.WaitVisible(chromedp.CSS("iframe.widget")))
	deadline := time.Now().Add(10 * time.Second)
	for e.widgetLoads.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if e.widgetLoads.Load() == 0 {
		t.Fatal("the browser never loaded the widget")
	}
	time.Sleep(300 * time.Millisecond) // time for a script, were it allowed, to run
	if got := c.js(`(() => { const f = document.querySelector("iframe.widget"); try { return f.contentDocument === null ? "null" : "reachable"; } catch (e) { return "blocked"; } })()`); got == "reachable" {
		t.Error("the console's script can reach into the widget's document (same origin)")
	}
	if got := c.js(`document.querySelector("iframe.widget").getAttribute("sandbox")`); got != "" {
		t.Errorf("iframe sandbox = %q", got)
	}
	if got := c.js(`document.title`); got != title {
		t.Errorf("the widget's script changed the console's title to %q", got)
	}
	if n := e.beacons.Load(); n != 0 {
		t.Errorf("the widget's script ran: %d beacon requests", n)
	}
	c.shot("widget")

	// An analyst cannot reach the admin pages.
	c.signOut()
	c.signIn(e.tokens["analyst"])
	if n := c.js(`String(document.querySelectorAll('nav a[href="/users"]').length)`); n != "0" {
		t.Error("the analyst's menu offers Users")
	}
	for _, p := range []string{"/users", "/connections/new", "/connections/emu/edit"} {
		c.open(p, "main h1")
		if h := c.text("main h1"); h != "Not allowed" {
			t.Errorf("analyst at %s sees %q", p, h)
		}
		if msg := c.text("p.error"); !strings.Contains(msg, "may not open this page") {
			t.Errorf("analyst at %s: %q", p, msg)
		}
	}
	c.shot("analyst-refused")
	// The connection page offers the analyst no admin buttons.
	c.open("/connections/emu", "dl.props")
	if n := c.js(`String(document.querySelectorAll("#test-connection, .danger").length)`); n != "0" {
		t.Error("the analyst is offered Test or Delete")
	}
}

// TestIncidentsAndDetonateInBrowser drives D3's file sources in Chromium: an incident
// made on the Incidents page, a file attached to it with the browser's file picker,
// an event of it whose risk becomes the incident's; then the Detonate page, which
// detonates the attachment picked from its source and a file uploaded there, and
// shows the envelope's tabs.
func TestIncidentsAndDetonateInBrowser(t *testing.T) {
	e := newEnv(t)
	e.addConnection(t, "emu")
	c := newChrome(t, e.srv.URL)
	c.signIn(e.tokens["admin"])
	files := t.TempDir()
	mail := filepath.Join(files, "invoice-4711.pdf.exe")
	dropper := filepath.Join(files, "dropper.js")
	os.WriteFile(mail, []byte("MZ an attachment of the phishing mail"), 0o600)
	os.WriteFile(dropper, []byte("var dropped = 'an artifact carried as content';"), 0o600)

	// An incident, and a file attached with the file picker.
	c.open("/incidents", "#incident-form")
	c.do(chromedp.SetValue(chromedp.ID("title"), "Phishing wave: fake invoices"),
		chromedp.SetValue(chromedp.ID("description"), "Mails from billing@ with an .exe attachment."),
		chromedp.Click(chromedp.ID("create-incident")), chromedp.WaitVisible(chromedp.ID("attach-form")))
	if got := c.text("#incident-risk"); got != "N/A" {
		t.Errorf("a new incident's risk = %q", got)
	}
	c.do(chromedp.SetUploadFiles(chromedp.ID("attachment"), []string{mail}), chromedp.Click(chromedp.ID("attach")),
		chromedp.WaitVisible(chromedp.ID("attachments")))
	if got := c.text("#attachments tbody tr td"); !strings.Contains(got, "invoice-4711.pdf.exe") {
		t.Fatalf("attachments = %q", got)
	}
	incident := c.location()

	// An event of the incident: its risk becomes the incident's.
	c.do(chromedp.SetValue(chromedp.ID("artifacts"), eicarMD5+"\nexample.com"), chromedp.Click(chromedp.ID("post-incident-event")),
		chromedp.WaitVisible(chromedp.ID("event")),
		chromedp.Poll[chromedp.Void](`document.getElementById("event").dataset.status === "done"`, chromedp.WithPollingTimeout(15*time.Second)))
	c.do(chromedp.Navigate(incident), chromedp.WaitVisible(chromedp.ID("incident-events")))
	if got := c.text("#incident-risk"); got != "High" {
		t.Errorf("the incident's risk = %q, want its event's High", got)
	}
	c.shot("incident")
	c.open("/incidents", "#incidents")
	if got := c.text("#incidents tbody tr td:nth-child(3)"); got != "High" {
		t.Errorf("the incident's risk in the list = %q", got)
	}
	c.shot("incidents")

	// The attachment's Detonate button opens the page with it picked; detonated.
	c.do(chromedp.Navigate(incident), chromedp.WaitVisible(chromedp.ID("attachments")),
		chromedp.Click(chromedp.CSS(`#attachments a.button`)), chromedp.WaitVisible(chromedp.ID("detonate-form")))
	if got := c.js(`String(document.querySelectorAll("#source-files input[name=file_id]:checked").length)`); got != "1" {
		t.Fatalf("ticked files = %s, want the attachment", got)
	}
	c.do(chromedp.SetValue(chromedp.ID("poll_interval"), "10ms"), chromedp.Click(chromedp.ID("detonate")),
		chromedp.WaitVisible(chromedp.ID("result")))
	if got := c.text("#return-data"); got != "Successful" {
		t.Errorf("detonating the attachment: %q", got)
	}

	// A file uploaded on the Detonate page, as an artifact file, detonated at once.
	c.open("/detonate?source=artifact", "#detonate-form")
	c.do(chromedp.SetUploadFiles(chromedp.ID("upload"), []string{dropper}), chromedp.SetValue(chromedp.ID("poll_interval"), "10ms"))
	c.shot("detonate-upload")
	c.do(chromedp.Click(chromedp.ID("detonate")), chromedp.WaitVisible(chromedp.ID("result")))
	if got := c.text("#return-data"); got != "Successful" {
		t.Errorf("detonating an upload: %q", got)
	}
	if got := c.js(`String(document.querySelectorAll("#source-files input[name=file_id]:checked").length)`); got != "1" {
		t.Errorf("the uploaded file is not listed ticked among the artifact files (%s)", got)
	}
	c.do(chromedp.Click(chromedp.ID("t-context")))
	if row := c.text("#context-data tbody tr"); !strings.Contains(row, "ok") || !strings.Contains(row, "file") {
		t.Errorf("context data = %q", row)
	}
	c.shot("detonate-result")
}

// TestLoginRedirectStaysOnSiteInBrowser follows the console's redirects after sign-in
// in Chromium, which strips TAB, CR and LF from a Location and reads "\" as "/": the
// browser stays on the console's origin whatever next= says.
func TestLoginRedirectStaysOnSiteInBrowser(t *testing.T) {
	e := newEnv(t)
	c := newChrome(t, e.srv.URL)
	nexts := []string{"/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example", "/%5C/evil.example",
		"/%5C%09/evil.example", "//evil.example", "/%09%2Fevil.example", "https://evil.example/", "%09//evil.example"}
	// Signing in from a sign-in page whose next= points away.
	for _, next := range nexts {
		c.open("/login?next="+next, "#token")
		c.do(chromedp.SetValue(chromedp.ID("token"), e.tokens["admin"]), chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`form.who`)))
		if loc := c.location(); loc != e.srv.URL+"/" {
			t.Errorf("signed in with next=%s: the browser is at %s", next, loc)
		}
		c.signOut()
	}
	// Visiting /login?next= once signed in (the redirect of loginForm).
	c.signIn(e.tokens["admin"])
	for _, next := range nexts {
		c.do(chromedp.Navigate(c.base + "/login?next=" + next))
		if loc := c.location(); loc != e.srv.URL+"/" {
			t.Errorf("/login?next=%s signed in: the browser is at %s", next, loc)
		}
	}
}

// TestRunWaitsInBrowser runs a command that its budget (2 requests a minute) cannot
// finish at once: the console follows its run, which shows the inputs done and that
// it waits for the budget until when, refreshing itself; the quota page shows who
// waits; the run is cancelled from its page and the user's recent runs list it.
func TestRunWaitsInBrowser(t *testing.T) {
	e := newEnv(t)
	sealed, err := connclient.SealKey(e.cipher, "pub", simAPIKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateConnection(context.Background(), store.Connection{Name: "pub", SealedAPIKey: sealed,
		ServerURL: e.simURL, Quota: "2/min"}); err != nil {
		t.Fatal(err)
	}
	c := newChrome(t, e.srv.URL)
	c.signIn(e.tokens["admin"])
	c.open("/run?command=check-ip-reputation&connection=pub", "#run-form")
	c.do(chromedp.SetValue(chromedp.ID("inputs"), "8.8.4.4\n9.9.9.9\n1.0.0.1"),
		chromedp.Click(chromedp.ID("run")), chromedp.WaitVisible(chromedp.ID("run-view")))
	if !strings.Contains(c.location(), "/runs/run_") {
		t.Fatalf("after submitting, the browser is at %s", c.location())
	}
	c.do(chromedp.Poll[chromedp.Void](`document.getElementById("run-view").dataset.state === "waiting"`, chromedp.WithPollingTimeout(15*time.Second)))
	if st := c.text("#run-state"); !regexp.MustCompile(`^waiting for the budget until \d\d:\d\d:\d\d UTC`).MatchString(st) {
		t.Errorf("state = %q", st)
	}
	if n := c.text("#run-count"); n != "2 of 3" {
		t.Errorf("count = %q", n)
	}
	if rows := c.js(`String(document.querySelectorAll("#context-data tbody tr").length)`); rows != "2" {
		t.Errorf("the partial result shows %s entries, want the 2 done", rows)
	}
	c.shot("run-waiting")
	// The page refreshes itself in place while the run goes on.
	c.do(chromedp.Evaluate[chromedp.Void](`window.stillHere = true`))
	time.Sleep(1500 * time.Millisecond)
	if c.js(`String(window.stillHere === true)`) != "true" {
		t.Error("the run page reloaded instead of refreshing in place")
	}
	runURL := c.location()

	// The quota page says who waits.
	c.open("/quota", "#quota-pub")
	if who := c.js(`Array.from(document.querySelectorAll("#quota-pub table.waiting tbody tr")).map(r => r.cells[0].textContent + "/" + r.cells[1].textContent).join(",")`); who != "user:admin/interactive" {
		t.Errorf("waiting on the quota page = %q", who)
	}
	c.shot("quota-waiting")

	// Cancel it: it stops refreshing; what was done stays.
	c.do(chromedp.Navigate(runURL), chromedp.WaitVisible(chromedp.ID("cancel-run")), chromedp.Click(chromedp.ID("cancel-run")),
		chromedp.WaitVisible(chromedp.CSS(`#run-view[data-state="cancelled"]`)))
	if n := c.js(`String(document.querySelectorAll("#cancel-run, [data-poll='1']").length)`); n != "0" {
		t.Errorf("a cancelled run still offers Cancel or refreshes")
	}
	if n := c.text("#run-count"); n != "2 of 3" {
		t.Errorf("count after cancelling = %q", n)
	}
	c.shot("run-cancelled")
	c.open("/run", "#recent-runs")
	if got := c.js(`Array.from(document.querySelectorAll("#recent-runs tbody tr")).map(r => r.cells[1].textContent + ":" + r.cells[3].textContent).join(",")`); got != "check-ip-reputation:cancelled" {
		t.Errorf("recent runs = %q", got)
	}
}
