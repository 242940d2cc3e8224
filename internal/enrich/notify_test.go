package enrich_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vtsoar/vtsoar/internal/enrich"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// smtpMessage is one message the test server received.
type smtpMessage struct {
	From   string
	To     []string
	Data   []byte
	TLS    bool
	AuthAs string
}

// smtpServer is an SMTP server (go-smtp) on 127.0.0.1 that requires PLAIN auth as
// user/pass and keeps what it receives.
type smtpServer struct {
	addr string
	port int
	mu   sync.Mutex
	msgs []smtpMessage
}

func (s *smtpServer) messages() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.msgs...)
}

type smtpSession struct {
	srv  *smtpServer
	conn *smtp.Conn
	msg  smtpMessage
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "alerts" || pass != "smtp-password" {
			return errors.New("invalid credentials")
		}
		s.msg.AuthAs = user
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.msg.AuthAs == "" {
		return smtp.ErrAuthRequired
	}
	s.msg.From = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.msg.TLS = s.conn.TLSConnectionState()
	s.msg.Data = b
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, s.msg)
	s.srv.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        { s.msg = smtpMessage{AuthAs: s.msg.AuthAs} }
func (s *smtpSession) Logout() error { return nil }

func startSMTP(t *testing.T, withTLS bool) (*smtpServer, *x509.CertPool) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ss, pool := serveSMTP(t, l, withTLS)
	ss.port = l.Addr().(*net.TCPAddr).Port
	return ss, pool
}

// serveSMTP serves SMTP on l until the test ends.
func serveSMTP(t *testing.T, l net.Listener, withTLS bool) (*smtpServer, *x509.CertPool) {
	t.Helper()
	ss := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: ss, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	var pool *x509.CertPool
	if withTLS {
		var cert tls.Certificate
		cert, pool = selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	} else {
		srv.AllowInsecureAuth = true
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	ss.addr = l.Addr().String()
	return ss, pool
}

func testNotification() enrich.Notification {
	return enrich.Notification{
		ID: "ntf-7", Connection: "vt-prod", ServerURL: "https://www.virustotal.com", Healthy: false,
		Previous: "healthy", Since: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		At: time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC), StatusCode: 401,
		Message: "401 WrongCredentialsError: Wrong API key",
	}
}

func TestEmailOverSTARTTLS(t *testing.T) {
	ss, pool := startSMTP(t, true)
	t.Setenv("VTSOAR_TEST_SMTP_PASSWORD", "smtp-password")
	em := &enrich.Email{
		Host: "127.0.0.1", Port: ss.port, From: "vtsoar <vtsoar@example.org>",
		To: []string{"soc@example.org", "Oncall <oncall@example.org>"}, Username: "alerts",
		PasswordRef: "env:VTSOAR_TEST_SMTP_PASSWORD", TLSConfig: &tls.Config{RootCAs: pool},
	}
	if err := em.Notify(context.Background(), testNotification()); err != nil {
		t.Fatal(err)
	}
	msgs := ss.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages received", len(msgs))
	}
	m := msgs[0]
	if !m.TLS || m.AuthAs != "alerts" || m.From != "vtsoar@example.org" ||
		strings.Join(m.To, ",") != "soc@example.org,oncall@example.org" {
		t.Fatalf("envelope: %+v", m)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mimeDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	if !strings.Contains(subj, "vt-prod") || !strings.Contains(subj, "failing") {
		t.Errorf("Subject = %q", subj)
	}
	if parsed.Header.Get("X-Vtsoar-Connection") != "vt-prod" || parsed.Header.Get("X-Vtsoar-State") != "failing" ||
		parsed.Header.Get("Message-Id") == "" || parsed.Header.Get("Date") == "" {
		t.Errorf("headers: %v", parsed.Header)
	}
	if to, err := parsed.Header.AddressList("To"); err != nil || len(to) != 2 {
		t.Errorf("To header: %v, %v", to, err)
	}
	body, _ := io.ReadAll(parsed.Body)
	for _, want := range []string{`"vt-prod"`, "FAILING", "401", "Wrong API key", "Previously:  healthy"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if bytes.Contains(m.Data, []byte("smtp-password")) {
		t.Error("the message holds the SMTP password")
	}
}

func TestEmailRefusesWithoutTLS(t *testing.T) {
	ss, _ := startSMTP(t, false)
	t.Setenv("VTSOAR_TEST_SMTP_PASSWORD", "smtp-password")
	em := &enrich.Email{Host: "127.0.0.1", Port: ss.port, From: "vtsoar@example.org", To: []string{"soc@example.org"},
		Username: "alerts", PasswordRef: "env:VTSOAR_TEST_SMTP_PASSWORD"}
	err := em.Notify(context.Background(), testNotification())
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("required STARTTLS against a plain server: err = %v", err)
	}
	if strings.Contains(err.Error(), "smtp-password") {
		t.Fatalf("error reveals the password: %v", err)
	}
	// Opportunistic: sent in clear (PLAIN auth is allowed to localhost only).
	em.TLS = enrich.StartTLSOpportunistic
	if err := em.Notify(context.Background(), testNotification()); err != nil {
		t.Fatal(err)
	}
	if msgs := ss.messages(); len(msgs) != 1 || msgs[0].TLS {
		t.Fatalf("messages: %+v", msgs)
	}
	em.PasswordRef = "smtp-password" // a password in clear is refused
	if err := em.Validate(); err == nil || strings.Contains(err.Error(), "smtp-password") {
		t.Fatalf("Validate with a clear password: %v", err)
	}
}

// webhookReceiver verifies deliveries as a receiver would and keeps the good ones.
type webhookReceiver struct {
	key      []byte
	mu       sync.Mutex
	got      []enrich.WebhookPayload
	rejected int
	bodies   [][]byte
}

func (wr *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p, err := enrich.VerifyWebhook(wr.key, r.Header, body, time.Minute, time.Now())
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if err != nil {
		wr.rejected++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	wr.got = append(wr.got, p)
	wr.bodies = append(wr.bodies, body)
	w.WriteHeader(http.StatusNoContent)
}

func (wr *webhookReceiver) payloads() []enrich.WebhookPayload {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return append([]enrich.WebhookPayload(nil), wr.got...)
}

func TestWebhookSignature(t *testing.T) {
	key := []byte("shared-webhook-secret")
	wr := &webhookReceiver{key: key}
	srv := httptest.NewServer(wr)
	defer srv.Close()
	wh := &enrich.Webhook{URL: srv.URL, Secret: key}
	if err := wh.Notify(context.Background(), testNotification()); err != nil {
		t.Fatal(err)
	}
	got := wr.payloads()
	if len(got) != 1 || got[0].Notification.Connection != "vt-prod" || got[0].Notification.Healthy || got[0].Type != "connection.health_changed" {
		t.Fatalf("payloads: %+v", got)
	}
	if bytes.Contains(wr.bodies[0], key) {
		t.Fatal("the body holds the secret")
	}

	// A tampered body, a wrong key, an old delivery replayed: all refused.
	body := wr.bodies[0]
	h := http.Header{}
	h.Set(enrich.HeaderSignature, enrich.Sign(key, body))
	h.Set(enrich.HeaderTimestamp, string(bytes.SplitN(bytes.SplitN(body, []byte(`"timestamp":`), 2)[1], []byte(","), 2)[0]))
	if _, err := enrich.VerifyWebhook(key, h, body, time.Minute, time.Now()); err != nil {
		t.Fatalf("genuine delivery refused: %v", err)
	}
	tampered := bytes.Replace(body, []byte(`"healthy":false`), []byte(`"healthy":true`), 1)
	if _, err := enrich.VerifyWebhook(key, h, tampered, time.Minute, time.Now()); !errors.Is(err, enrich.ErrBadSignature) {
		t.Fatalf("tampered body: err = %v", err)
	}
	if _, err := enrich.VerifyWebhook([]byte("other"), h, body, time.Minute, time.Now()); !errors.Is(err, enrich.ErrBadSignature) {
		t.Fatalf("wrong key: err = %v", err)
	}
	if _, err := enrich.VerifyWebhook(key, h, body, time.Minute, time.Now().Add(10*time.Minute)); !errors.Is(err, enrich.ErrBadSignature) {
		t.Fatalf("replayed after 10 minutes: err = %v", err)
	}
	// Over HTTP: a tampered delivery gets 401.
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(tampered))
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(wr.payloads()) != 1 {
		t.Fatalf("tampered delivery: %s, %d accepted", resp.Status, len(wr.payloads()))
	}
}

func TestWebhookRetriesBounded(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 2 && r.URL.Path == "/flaky" {
			w.WriteHeader(http.StatusOK)
			return
		}
		if r.URL.Path == "/gone" {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	wh := &enrich.Webhook{URL: srv.URL + "/flaky", Secret: []byte("k"), Backoff: time.Millisecond}
	if err := wh.Notify(context.Background(), testNotification()); err != nil || calls.Load() != 2 {
		t.Fatalf("flaky receiver: %v after %d calls", err, calls.Load())
	}
	calls.Store(10)
	wh.URL = srv.URL + "/down"
	if err := wh.Notify(context.Background(), testNotification()); err == nil || calls.Load() != 13 {
		t.Fatalf("down receiver: %v after %d calls, want 3", err, calls.Load()-10)
	}
	calls.Store(0)
	wh.URL = srv.URL + "/gone"
	if err := wh.Notify(context.Background(), testNotification()); err == nil || calls.Load() != 1 {
		t.Fatalf("410 receiver: %v after %d calls, want 1 (no retry)", err, calls.Load())
	}
}

type mimeDecoder = mime.WordDecoder

// A webhook that answers with a redirect does not get its notification moved: the
// other server receives nothing (neither body nor signature), the delivery fails at
// once with an error that says so, and the error holds no secret. The same with the
// client given for the connections' own webhooks.
func TestWebhookFollowsNoRedirect(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer other.Close()
	var calls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		http.Redirect(w, r, other.URL+"/stolen", code)
	}))
	defer hook.Close()
	const key = "webhook-secret-never-shown"
	given := &http.Client{Timeout: time.Minute}
	for _, client := range []*http.Client{nil, given} {
		which := "the default client"
		if client != nil {
			which = "the client given"
		}
		for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			calls.Store(0)
			wh := &enrich.Webhook{URL: hook.URL + "/" + strconv.Itoa(code), Secret: []byte(key), Client: client, Backoff: time.Millisecond}
			err := wh.Notify(context.Background(), testNotification())
			if err == nil || !strings.Contains(err.Error(), strconv.Itoa(code)) || !strings.Contains(err.Error(), "redirect") {
				t.Errorf("%s, %d: err = %v, want a failed delivery naming the redirect", which, code, err)
			} else if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "stolen") {
				t.Errorf("%s, %d: the error shows the secret or where it was sent: %v", which, code, err)
			}
			if calls.Load() != 1 {
				t.Errorf("%s, %d: %d attempts, want 1 (a redirect is not retried)", which, code, calls.Load())
			}
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect's target got %d notifications", n)
	}
	if given.CheckRedirect != nil {
		t.Error("Notify changed the client it was given")
	}
}

// A webhook's URL often is its receiver's secret (a token in its path or query, as
// Slack's and Teams' are): a failed delivery's error, which the service logs, names the
// receiver by its scheme and host only, whether the receiver refused the delivery or
// could not be reached.
func TestWebhookErrorsKeepTheURLsSecret(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	defer refusing.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	const token = "T0001/B0002/hook-token-never-logged"
	for _, base := range []string{refusing.URL, goneURL} {
		wh := &enrich.Webhook{URL: base + "/services/" + token + "?sig=query-token-never-logged", Secret: []byte("k"), Backoff: time.Millisecond}
		err := wh.Notify(context.Background(), testNotification())
		if err == nil {
			t.Fatalf("%s: delivered", base)
		}
		if strings.Contains(err.Error(), "never-logged") {
			t.Errorf("the error shows the webhook URL's secret: %v", err)
		}
		if !strings.Contains(err.Error(), strings.TrimPrefix(base, "http://")) {
			t.Errorf("the error does not name the receiver's host %s: %v", base, err)
		}
	}
}
