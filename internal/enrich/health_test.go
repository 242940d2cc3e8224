package enrich_test

import (
	"bytes"
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/enrich"
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
	time.Sleep(2 * time.Millisecond) // a new UpdatedAt, so the service rebuilds its client
	if err := e.st.UpdateConnection(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
}

// TestHealthTransitionsNotifyTwice checks healthy, healthy, failing (the emulator
// refuses "bad-key"), failing, healthy: exactly two notifications by each notifier
// (e-mail over STARTTLS and webhook), failing then healthy again, none with the key.
func TestHealthTransitionsNotifyTwice(t *testing.T) { eachBackend(t, testHealthTransitionsNotifyTwice) }

func testHealthTransitionsNotifyTwice(t *testing.T, b string) {
	e := newEnv(t, b, vtsim.Options{})
	const goodKey = "good-key-abcdef0123456789"
	e.addConn("vt-prod", goodKey, allKinds, nil, 0)
	ss, pool := startSMTP(t, true)
	t.Setenv("VTSOAR_TEST_SMTP_PASSWORD", "smtp-password")
	wr := &webhookReceiver{key: []byte("hook-secret")}
	hook := httptest.NewServer(wr)
	defer hook.Close()
	s := e.service(enrich.Options{Notifiers: []enrich.Notifier{
		&enrich.Email{Host: "127.0.0.1", Port: ss.port, From: "vtsoar@example.org", To: []string{"soc@example.org"},
			Username: "alerts", PasswordRef: "env:VTSOAR_TEST_SMTP_PASSWORD", TLSConfig: &tls.Config{RootCAs: pool}},
		&enrich.Webhook{URL: hook.URL, Secret: []byte("hook-secret")},
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
		if !st.healthy && (h.StatusCode != 401 || !strings.Contains(h.Message, "WrongCredentials")) {
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

	// Deliveries are jobs: wait for them, then a little longer to see that no third
	// one comes.
	deadline := time.Now().Add(20 * time.Second)
	for len(ss.messages()) < 2 || len(wr.payloads()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: %d e-mails, %d webhooks", len(ss.messages()), len(wr.payloads()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
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
		if n.State() == "failing" && (n.StatusCode != 401 || n.Previous != "healthy") {
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
	eachBackend(t, testHealthFirstCheckFailingNotifies)
}

func testHealthFirstCheckFailingNotifies(t *testing.T, b string) {
	e := newEnv(t, b, vtsim.Options{})
	e.addConn("good", "k-good", nil, nil, 0)
	e.addConn("bad", "bad-key", nil, nil, 0)
	wr := &webhookReceiver{key: []byte("s")}
	hook := httptest.NewServer(wr)
	defer hook.Close()
	s := e.service(enrich.Options{Notifiers: []enrich.Notifier{&enrich.Webhook{URL: hook.URL, Secret: []byte("s")}}})
	for _, name := range []string{"good", "bad"} {
		if _, err := s.CheckConnection(e.ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(wr.payloads()) < 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	got := wr.payloads()
	if len(got) != 1 || got[0].Notification.Connection != "bad" || got[0].Notification.Previous != "" {
		t.Fatalf("notifications: %+v", got)
	}
	if _, err := s.CheckConnection(e.ctx, "missing"); err == nil {
		t.Fatal("CheckConnection of a missing connection succeeded")
	}
}

// TestHealthCheckScheduled: the periodic sweep checks connections that have an
// interval, once per interval, and leaves the others alone.
func TestHealthCheckScheduled(t *testing.T) { eachBackend(t, testHealthCheckScheduled) }

func testHealthCheckScheduled(t *testing.T, b string) {
	e := newEnv(t, b, vtsim.Options{})
	e.addConn("every-minute", "k1", []ioc.Kind{ioc.KindIP}, nil, 1)
	e.addConn("never", "k2", nil, nil, 0)
	s := e.service(enrich.Options{HealthSweepInterval: 200 * time.Millisecond})
	deadline := time.Now().Add(15 * time.Second)
	for {
		hist, err := s.HealthHistory(e.ctx, "every-minute", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) > 0 {
			if !hist[0].Healthy {
				t.Fatalf("scheduled check: %+v", hist[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no scheduled check after 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // several more sweeps: the minute is not over
	if hist, _ := s.HealthHistory(e.ctx, "every-minute", 0); len(hist) != 1 {
		t.Errorf("%d checks within a minute, want 1", len(hist))
	}
	if hist, _ := s.HealthHistory(e.ctx, "never", 0); len(hist) != 0 {
		t.Errorf("connection without an interval checked %d times", len(hist))
	}
}
