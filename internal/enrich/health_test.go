package enrich_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/pipenet"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vtsim"
)

// setKey replaces a stored connection's API key.
func (e *env) setKey(name, key string) {
	e.t.Helper()
	c, err := e.st.GetConnection(e.ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	if c.SealedAPIKey, err = connclient.SealKey(e.cipher, name, key); err != nil {
		e.t.Fatal(err)
	}
	time.Sleep(time.Second) // a new UpdatedAt, so the service rebuilds its client (fake time in a bubble)
	if err := e.st.UpdateConnection(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
}

// inBubble runs f, for each backend, in a synctest bubble with an env made by
// newBubbleEnv: the service's minutes, retries and deliveries pass in fake time.
func inBubble(t *testing.T, f func(t *testing.T, e *env)) {
	eachBackend(t, func(t *testing.T, b string) {
		db := dbFor(t, b)
		synctest.Test(t, func(t *testing.T) { f(t, newBubbleEnv(t, db, vtsim.Options{})) })
	})
}

// hookServer serves wr on the bubble's in-memory network and returns the webhook
// notifier that posts to it.
func hookServer(t *testing.T, wr *webhookReceiver, secret string) *enrich.Webhook {
	l, stop := pipenet.Serve("hooks.test", wr)
	t.Cleanup(stop)
	return &enrich.Webhook{URL: "http://hooks.test/vtsoar", Secret: []byte(secret), Client: l.HTTPClient()}
}

// settle lets the service run for ten minutes of the bubble's time: every delivery and
// every retry of one would have happened by then.
func settle() { time.Sleep(10 * time.Minute) }

// TestHealthTransitionsNotifyTwice checks healthy, healthy, failing (the emulator
// refuses "bad-key"), failing, healthy: exactly two notifications by each notifier
// (e-mail over STARTTLS and webhook), failing then healthy again, none with the key.
func TestHealthTransitionsNotifyTwice(t *testing.T) { inBubble(t, testHealthTransitionsNotifyTwice) }

func testHealthTransitionsNotifyTwice(t *testing.T, e *env) {
	const goodKey = "good-key-abcdef0123456789"
	e.addConn("vt-prod", goodKey, allKinds, nil, 0)
	smtpNet := pipenet.Listen("smtp.test")
	ss, pool := serveSMTP(t, smtpNet, true)
	t.Setenv("VTSOAR_TEST_SMTP_PASSWORD", "smtp-password")
	wr := &webhookReceiver{key: []byte("hook-secret")}
	s := e.service(enrich.Options{Notifiers: []enrich.Notifier{
		&enrich.Email{Host: "localhost", Port: 587, Dial: smtpNet.DialContext, From: "vtsoar@example.org", To: []string{"soc@example.org"},
			Username: "alerts", PasswordRef: "env:VTSOAR_TEST_SMTP_PASSWORD", TLSConfig: &tls.Config{RootCAs: pool}},
		hookServer(t, wr, "hook-secret"),
	}})

	steps := []struct {
		key     string
		healthy bool
	}{{goodKey, true}, {goodKey, true}, {"bad-key", false}, {"bad-key", false}, {goodKey, true}}
	for i, st := range steps {
		if i > 0 && st.key != steps[i-1].key {
			e.setKey("vt-prod", st.key)
		}
		h, err := s.CheckConnection(e.ctx, "vt-prod")
		if err != nil {
			t.Fatal(err)
		}
		if h.Healthy != st.healthy {
			t.Fatalf("step %d: healthy = %v (%d %s), want %v", i, h.Healthy, h.StatusCode, h.Message, st.healthy)
		}
		if st.healthy && (h.StatusCode != 200 || len(h.QuotaLeft) == 0) {
			t.Errorf("step %d: healthy check %+v lacks status or quota", i, h)
		}
		// A failure is recorded in test-connection's words, as D3 SOAR says them.
		if !st.healthy && (h.StatusCode != 401 ||
			h.Message != "Test Connection failed. Failed to check the connector. 401 WrongCredentialsError: Wrong API key") {
			t.Errorf("step %d: failing check %+v", i, h)
		}
	}
	hist, err := s.HealthHistory(e.ctx, "vt-prod", 0)
	if err != nil || len(hist) != len(steps) {
		t.Fatalf("history: %d checks, %v", len(hist), err)
	}
	for i, h := range hist { // newest first
		if want := steps[len(steps)-1-i].healthy; h.Healthy != want {
			t.Errorf("history[%d].Healthy = %v, want %v", i, h.Healthy, want)
		}
		if strings.Contains(h.Message, goodKey) || strings.Contains(h.Message, "bad-key") {
			t.Errorf("history holds a key: %q", h.Message)
		}
	}

	// Deliveries are jobs: all of them, and any retry, are done once the service has
	// run a while.
	settle()
	msgs, hooks := ss.messages(), wr.payloads()
	if len(msgs) != 2 || len(hooks) != 2 {
		t.Fatalf("%d e-mails and %d webhooks, want 2 each", len(msgs), len(hooks))
	}
	// Deliveries may complete in either order; the notifications say which is which.
	states := map[string]int{}
	for _, p := range hooks {
		n := p.Notification
		states[n.State()]++
		if n.Connection != "vt-prod" || n.Previous == "" || n.At.IsZero() {
			t.Errorf("webhook notification %+v", n)
		}
		if n.State() == "failing" && (n.StatusCode != 401 || n.Previous != "healthy" ||
			!strings.HasPrefix(n.Message, "Test Connection failed. Failed to check the connector. ")) {
			t.Errorf("failing notification %+v", n)
		}
		if n.State() == "healthy" && n.Previous != "failing" {
			t.Errorf("recovery notification %+v", n)
		}
	}
	if states["failing"] != 1 || states["healthy"] != 1 {
		t.Errorf("webhook states %v, want one failing and one healthy", states)
	}
	var subjects []string
	for _, m := range msgs {
		for _, k := range []string{goodKey, "bad-key", "smtp-password", "hook-secret"} {
			if bytes.Contains(m.Data, []byte(k)) {
				t.Errorf("an e-mail holds %q", k)
			}
		}
		subjects = append(subjects, string(m.Data))
	}
	all := strings.Join(subjects, "\n")
	if !strings.Contains(all, "X-Vtsoar-State: failing") || !strings.Contains(all, "X-Vtsoar-State: healthy") ||
		!strings.Contains(all, "vt-prod is healthy again") {
		t.Errorf("e-mails do not tell both transitions:\n%s", all)
	}
	for _, b := range wr.bodies {
		if bytes.Contains(b, []byte(goodKey)) || bytes.Contains(b, []byte("bad-key")) {
			t.Errorf("a webhook body holds a key: %s", b)
		}
	}
}

// TestHealthFirstCheckFailingNotifies: a first check that fails notifies; one that
// succeeds does not.
func TestHealthFirstCheckFailingNotifies(t *testing.T) {
	inBubble(t, testHealthFirstCheckFailingNotifies)
}

func testHealthFirstCheckFailingNotifies(t *testing.T, e *env) {
	e.addConn("good", "k-good", nil, nil, 0)
	e.addConn("bad", "bad-key", nil, nil, 0)
	wr := &webhookReceiver{key: []byte("s")}
	s := e.service(enrich.Options{Notifiers: []enrich.Notifier{hookServer(t, wr, "s")}})
	for _, name := range []string{"good", "bad"} {
		if _, err := s.CheckConnection(e.ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	settle()
	got := wr.payloads()
	if len(got) != 1 || got[0].Notification.Connection != "bad" || got[0].Notification.Previous != "" {
		t.Fatalf("notifications: %+v", got)
	}
	if _, err := s.CheckConnection(e.ctx, "missing"); err == nil {
		t.Fatal("CheckConnection of a missing connection succeeded")
	}
}

// TestHealthCheckScheduled: the periodic sweep (every 10 s here) checks connections
// that have an interval, once per interval, and leaves the others alone: over ten
// minutes and a half, a connection checked every minute is checked eleven times, a
// minute apart, and one checked every three minutes four times.
func TestHealthCheckScheduled(t *testing.T) { inBubble(t, testHealthCheckScheduled) }

func testHealthCheckScheduled(t *testing.T, e *env) {
	e.addConn("every-minute", "k1", []ioc.Kind{ioc.KindIP}, nil, 1)
	e.addConn("every-3-minutes", "k3", []ioc.Kind{ioc.KindIP}, nil, 3)
	e.addConn("never", "k2", nil, nil, 0)
	e.service(enrich.Options{HealthSweepInterval: 10 * time.Second})
	time.Sleep(10*time.Minute + 30*time.Second)
	for _, c := range []struct {
		name     string
		interval time.Duration
		checks   int
	}{{"every-minute", time.Minute, 11}, {"every-3-minutes", 3 * time.Minute, 4}, {"never", 0, 0}} {
		hist, err := e.st.HealthHistory(e.ctx, c.name, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != c.checks {
			t.Errorf("%s: %d checks in 10m30s, want %d", c.name, len(hist), c.checks)
		}
		for i := 1; i < len(hist); i++ { // newest first
			// A check is due half a sweep before its interval is over.
			if gap := hist[i-1].At.Sub(hist[i].At); gap < c.interval-5*time.Second || gap > c.interval+10*time.Second {
				t.Errorf("%s: checks %v apart, want %v give or take a sweep", c.name, gap, c.interval)
			}
			if !hist[i].Healthy {
				t.Errorf("%s: scheduled check %+v", c.name, hist[i])
			}
		}
	}
}

// TestConnectionOwnRecipients: a connection with recipients of its own is notified to
// them (its e-mail addresses through the service's SMTP server, its webhook signed by
// its own secret, a reference resolved at delivery), not to the service's; another
// connection still is to the service's.
func TestConnectionOwnRecipients(t *testing.T) { inBubble(t, testConnectionOwnRecipients) }

func testConnectionOwnRecipients(t *testing.T, e *env) {
	e.addConn("own", "bad-key", nil, nil, 0)
	e.addConn("shared", "bad-key", nil, nil, 0)
	t.Setenv("VTSOAR_TEST_SMTP_PASSWORD", "smtp-password")
	t.Setenv("VTSOAR_TEST_OWN_HOOK", "own-hook-secret")
	c, err := e.st.GetConnection(e.ctx, "own")
	if err != nil {
		t.Fatal(err)
	}
	c.NotifyEmails = []string{"Oncall <oncall@example.org>"}
	c.NotifyWebhookURL = "http://own-hooks.test/vt"
	if c.SealedNotifyWebhookSecretRef, err = connclient.SealWebhookSecretRef(e.cipher, "own", "env:VTSOAR_TEST_OWN_HOOK"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.UpdateConnection(e.ctx, c); err != nil {
		t.Fatal(err)
	}
	smtpNet := pipenet.Listen("smtp.test")
	ss, pool := serveSMTP(t, smtpNet, true)
	shared := &webhookReceiver{key: []byte("service-secret")}
	own := &webhookReceiver{key: []byte("own-hook-secret")}
	ownHooks, stop := pipenet.Serve("own-hooks.test", own)
	t.Cleanup(stop)
	s := e.service(enrich.Options{
		Notifiers: []enrich.Notifier{
			&enrich.Email{Host: "localhost", Port: 587, Dial: smtpNet.DialContext, From: "vtsoar@example.org", To: []string{"soc@example.org"},
				Username: "alerts", PasswordRef: "env:VTSOAR_TEST_SMTP_PASSWORD", TLSConfig: &tls.Config{RootCAs: pool}},
			hookServer(t, shared, "service-secret"),
		},
		WebhookClient: ownHooks.HTTPClient(),
	})
	for _, name := range []string{"own", "shared"} {
		if _, err := s.CheckConnection(e.ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	settle()
	byRcpt := map[string]string{}
	for _, m := range ss.messages() {
		for _, to := range m.To {
			byRcpt[to] += string(m.Data)
		}
	}
	if len(byRcpt) != 2 || !strings.Contains(byRcpt["oncall@example.org"], "own") || strings.Contains(byRcpt["oncall@example.org"], "shared") ||
		!strings.Contains(byRcpt["soc@example.org"], "shared") || strings.Contains(byRcpt["soc@example.org"], "connection own ") {
		t.Errorf("e-mails by recipient: %v", byRcpt)
	}
	if got := shared.payloads(); len(got) != 1 || got[0].Notification.Connection != "shared" {
		t.Errorf("the service's webhook got %+v", got)
	}
	if got := own.payloads(); len(got) != 1 || got[0].Notification.Connection != "own" || own.rejected != 0 {
		t.Errorf("the connection's webhook got %+v (%d refused)", got, own.rejected)
	}
}

// TestInactiveConnectionSendsNothing: an inactive connection runs no health check
// (scheduled or asked for) and no enrichment: the emulator sees no request from it.
func TestInactiveConnectionSendsNothing(t *testing.T) {
	inBubble(t, testInactiveConnectionSendsNothing)
}

func testInactiveConnectionSendsNothing(t *testing.T, e *env) {
	e.addConn("off", "key-off", allKinds, nil, 1)
	c, err := e.st.GetConnection(e.ctx, "off")
	if err != nil {
		t.Fatal(err)
	}
	c.Inactive = true
	if err := e.st.UpdateConnection(e.ctx, c); err != nil {
		t.Fatal(err)
	}
	s := e.service(enrich.Options{HealthSweepInterval: 10 * time.Second})
	if _, err := s.CheckConnection(e.ctx, "off"); !errors.Is(err, store.ErrInactive) {
		t.Errorf("CheckConnection of an inactive connection: %v", err)
	}
	ev, err := s.SubmitEvent(e.ctx, enrich.NewEvent{Artifacts: []enrich.Artifact{{Type: ioc.KindIP, Value: "8.8.8.8"}}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Minute) // five scheduled checks' time, and the event's job
	done, err := s.GetEvent(e.ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a := done.Artifacts[0]; a.Status != "error" || !strings.Contains(a.Error, "no connection") {
		t.Errorf("artifact with only an inactive connection: %+v", a)
	}
	if hist, _ := e.st.HealthHistory(e.ctx, "off", 0); len(hist) != 0 {
		t.Errorf("%d health checks of an inactive connection", len(hist))
	}
	if n := e.count.key("key-off"); n != 0 {
		t.Errorf("%d requests on an inactive connection", n)
	}
}
