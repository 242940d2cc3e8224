package enrich

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/secret"
)

// TLS modes of an Email notifier.
const (
	// StartTLSRequired upgrades the connection with STARTTLS and refuses to send
	// without it (the default).
	StartTLSRequired = "required"
	// StartTLSOpportunistic upgrades when the server offers STARTTLS.
	StartTLSOpportunistic = "opportunistic"
	// ImplicitTLS speaks TLS from the first byte (SMTPS, usually port 465).
	ImplicitTLS = "tls"
	// NoTLS never encrypts; authentication is then refused except to localhost.
	NoTLS = "none"
)

// Email sends notifications by e-mail over SMTP.
type Email struct {
	// Host and Port are the SMTP server (Port 0: 587, or 465 with ImplicitTLS).
	Host string
	Port int
	// From is the sender and To the recipients (addresses, optionally with names).
	From string
	To   []string
	// Username, when set, authenticates with PLAIN (only over TLS, or to localhost);
	// PasswordRef names the password as a secret reference (env:NAME or file:PATH),
	// read at each delivery and never logged.
	Username    string
	PasswordRef string
	// TLS is StartTLSRequired (default), StartTLSOpportunistic, ImplicitTLS or NoTLS.
	TLS string
	// TLSConfig, when set, is used for TLS (its ServerName defaults to Host).
	TLSConfig *tls.Config
	// HelloName is the name given in EHLO (default "localhost").
	HelloName string
	// Timeout bounds one delivery (default 30s).
	Timeout time.Duration
	// NotifierName is the notifier's name (default "email").
	NotifierName string
	// Now is the clock of the Date header (nil: time.Now).
	Now func() time.Time
	// Dial connects to the SMTP server (nil: a net.Dialer), to reach it through a
	// SOCKS proxy or another network than the host's.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Name implements Notifier.
func (e *Email) Name() string {
	if e.NotifierName != "" {
		return e.NotifierName
	}
	return "email"
}

// WithRecipients implements Addressed: the same server and sender, to another list.
func (e *Email) WithRecipients(to []string) Notifier {
	cp := *e
	cp.To = to
	return &cp
}

// Validate checks the configuration.
func (e *Email) Validate() error {
	if e.Host == "" {
		return errors.New("email notifier: no SMTP host")
	}
	if _, err := mail.ParseAddress(e.From); err != nil {
		return fmt.Errorf("email notifier: from %q: %w", e.From, err)
	}
	if len(e.To) == 0 {
		return errors.New("email notifier: no recipients")
	}
	for _, to := range e.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return fmt.Errorf("email notifier: to %q: %w", to, err)
		}
	}
	switch e.TLS {
	case "", StartTLSRequired, StartTLSOpportunistic, ImplicitTLS, NoTLS:
	default:
		return fmt.Errorf("email notifier: TLS mode %q (want required, opportunistic, tls or none)", e.TLS)
	}
	if e.Username != "" && !secret.IsReference(e.PasswordRef) {
		return errors.New("email notifier: the password must be given as a reference (env:NAME or file:PATH)")
	}
	return nil
}

// Notify implements Notifier: one message to every recipient.
func (e *Email) Notify(ctx context.Context, n Notification) error {
	if err := e.Validate(); err != nil {
		return err
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mode := e.TLS
	if mode == "" {
		mode = StartTLSRequired
	}
	port := e.Port
	if port == 0 {
		port = 587
		if mode == ImplicitTLS {
			port = 465
		}
	}
	tcfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.TLSConfig != nil {
		tcfg = e.TLSConfig.Clone()
	}
	if tcfg.ServerName == "" {
		tcfg.ServerName = e.Host
	}
	addr := net.JoinHostPort(e.Host, strconv.Itoa(port))
	dial := e.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("email notifier: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if mode == ImplicitTLS {
		conn = tls.Client(conn, tcfg)
	}
	c, err := smtp.NewClient(conn, e.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("email notifier: %s: %w", addr, err)
	}
	defer c.Close()
	hello := e.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return fmt.Errorf("email notifier: EHLO: %w", err)
	}
	if mode == StartTLSRequired || mode == StartTLSOpportunistic {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tcfg); err != nil {
				return fmt.Errorf("email notifier: STARTTLS: %w", err)
			}
		} else if mode == StartTLSRequired {
			return fmt.Errorf("email notifier: %s does not offer STARTTLS, which is required", addr)
		}
	}
	if e.Username != "" {
		password, err := secret.Resolve(e.PasswordRef)
		if err != nil {
			return fmt.Errorf("email notifier: password: %w", err)
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("email notifier: %s does not offer AUTH", addr)
		}
		if err := c.Auth(smtp.PlainAuth("", e.Username, password, e.Host)); err != nil {
			return fmt.Errorf("email notifier: AUTH: %s", secret.Redact(err.Error(), password))
		}
	}
	from, _ := mail.ParseAddress(e.From)
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("email notifier: MAIL FROM: %w", err)
	}
	for _, to := range e.To {
		a, _ := mail.ParseAddress(to)
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("email notifier: RCPT TO %s: %w", a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("email notifier: DATA: %w", err)
	}
	if _, err := w.Write(e.message(n)); err != nil {
		return fmt.Errorf("email notifier: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email notifier: DATA: %w", err)
	}
	// The server took the message when it answered the end of DATA (RFC 5321,
	// 4.1.1.4): a failing QUIT or TLS close after that must not make the delivery
	// fail, or its retry would send the e-mail again.
	_ = c.Quit()
	return nil
}

// oneLine removes line breaks (no header injection through a connection's name or a
// server's message).
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func (e *Email) message(n Notification) []byte {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	var id [12]byte
	rand.Read(id[:])
	host := e.HelloName
	if host == "" {
		host = "vtsoar.localhost"
	}
	subject := "[vtsoar] " + oneLine(n.Summary())
	if len(subject) > 200 {
		subject = subject[:200] + "..."
	}
	var b strings.Builder
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", e.From)
	hdr("To", strings.Join(e.To, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+host+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	hdr("X-Vtsoar-Connection", oneLine(n.Connection))
	hdr("X-Vtsoar-State", n.State())
	if n.ID != "" {
		hdr("X-Vtsoar-Notification", oneLine(n.ID))
	}
	b.WriteString("\r\n")
	line := func(format string, args ...any) { b.WriteString(fmt.Sprintf(format, args...) + "\r\n") }
	line("The VirusTotal connection %q is now %s.", oneLine(n.Connection), strings.ToUpper(n.State()))
	line("")
	line("Server:      %s", oneLine(n.ServerURL))
	line("Checked at:  %s", n.At.UTC().Format(time.RFC3339))
	if n.Previous != "" {
		line("Previously:  %s (last seen %s)", n.Previous, n.Since.UTC().Format(time.RFC3339))
	} else {
		line("Previously:  (first check)")
	}
	if n.StatusCode != 0 {
		line("HTTP status: %d", n.StatusCode)
	} else {
		line("HTTP status: no answer")
	}
	line("Result:      %s", oneLine(n.Message))
	if len(n.QuotaLeft) > 0 {
		keys := make([]string, 0, len(n.QuotaLeft))
		for k := range n.QuotaLeft {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		line("Quota left:")
		for _, k := range keys {
			line("  %s: %d", k, n.QuotaLeft[k])
		}
	}
	line("")
	line("-- vtsoar connection health checks")
	return []byte(dotSafe(b.String()))
}

// dotSafe leaves the body as is; net/smtp's DATA writer does the dot-stuffing. It
// only makes sure every line ends in CRLF.
func dotSafe(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}
