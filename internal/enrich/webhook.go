package enrich

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/vtsoar/vtsoar/internal/secret"
)

// Headers of a webhook delivery.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256 of the body under the
	// shared secret.
	HeaderSignature = "X-Vtsoar-Signature"
	// HeaderTimestamp is the Unix time of the delivery, also in the (signed) body as
	// "timestamp", so that a receiver can refuse old deliveries replayed.
	HeaderTimestamp = "X-Vtsoar-Timestamp"
	// HeaderDelivery is the notification's id, the same for retries of a delivery.
	HeaderDelivery = "X-Vtsoar-Delivery"
)

// WebhookPayload is the JSON body a webhook receives.
type WebhookPayload struct {
	// Type is "connection.health_changed".
	Type string `json:"type"`
	// Timestamp is the Unix time of the delivery (equal to HeaderTimestamp).
	Timestamp    int64        `json:"timestamp"`
	Notification Notification `json:"notification"`
}

// Webhook posts notifications as signed JSON.
type Webhook struct {
	// URL receives the POST.
	URL string
	// Secret is the shared HMAC key; SecretRef names it instead (env:NAME or
	// file:PATH; with Secrets, also exec:COMMAND), read at each delivery.
	Secret    []byte
	SecretRef string
	// Secrets, when set, resolves SecretRef (it keeps what it resolved for its TTL).
	Secrets *secret.Resolver
	// Client sends the request (nil: a client with a 10s timeout). A copy of it is
	// used that follows no redirect: an answer 3xx is a failed delivery.
	Client *http.Client
	// MaxAttempts bounds the attempts of one delivery (0: 3); Backoff is the wait
	// before the second attempt, doubled after each (0: 500ms). Answers 4xx other
	// than 408 and 429 are not retried.
	MaxAttempts int
	Backoff     time.Duration
	// NotifierName is the notifier's name (default "webhook").
	NotifierName string
	// Now is the clock of the timestamp (nil: time.Now).
	Now func() time.Time
}

// Name implements Notifier.
func (w *Webhook) Name() string {
	if w.NotifierName != "" {
		return w.NotifierName
	}
	return "webhook"
}

func (w *Webhook) secret(ctx context.Context) ([]byte, error) {
	if len(w.Secret) > 0 {
		return w.Secret, nil
	}
	if w.SecretRef == "" {
		return nil, errors.New("webhook notifier: no secret")
	}
	var s string
	var err error
	if w.Secrets != nil {
		s, err = w.Secrets.Resolve(ctx, w.SecretRef)
	} else {
		s, err = secret.Resolve(w.SecretRef)
	}
	if err != nil {
		return nil, fmt.Errorf("webhook notifier: secret: %w", err)
	}
	return []byte(s), nil
}

// Sign returns the signature header value of body under key.
func Sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by VerifyWebhook for a delivery that is not signed by
// the shared secret, or is too old.
var ErrBadSignature = errors.New("webhook delivery: bad signature or timestamp")

// VerifyWebhook checks a delivery as a receiver should: the signature of body under
// key (in constant time), the timestamp header equal to the body's, and no further
// than maxSkew from now (a replayed old delivery fails). It returns the payload.
func VerifyWebhook(key []byte, h http.Header, body []byte, maxSkew time.Duration, now time.Time) (WebhookPayload, error) {
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(Sign(key, body))) {
		return WebhookPayload{}, fmt.Errorf("%w: signature does not match", ErrBadSignature)
	}
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return WebhookPayload{}, fmt.Errorf("%w: no timestamp", ErrBadSignature)
	}
	var p WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return WebhookPayload{}, fmt.Errorf("webhook delivery: %w", err)
	}
	if p.Timestamp != ts {
		return WebhookPayload{}, fmt.Errorf("%w: timestamp header and body differ", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return WebhookPayload{}, fmt.Errorf("%w: timestamp %s away", ErrBadSignature, d.Round(time.Second))
	}
	return p, nil
}

// Notify implements Notifier.
func (w *Webhook) Notify(ctx context.Context, n Notification) error {
	key, err := w.secret(ctx)
	if err != nil {
		return err
	}
	client := noRedirects(w.Client)
	attempts := w.MaxAttempts
	if attempts <= 0 {
		attempts = 3
	}
	backoff := w.Backoff
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(lastErr, ctx.Err())
			case <-time.After(backoff << (i - 1)):
			}
		}
		retry, err := w.post(ctx, client, key, now(), n)
		if err == nil {
			return nil
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return lastErr
}

// noRedirects returns a copy of c (nil: a client with a 10s timeout) that follows no
// redirect: it returns the 3xx answer instead, so that a notification (its body and
// signature) goes to the webhook's URL and nowhere else.
func noRedirects(c *http.Client) *http.Client {
	hc := http.Client{Timeout: 10 * time.Second}
	if c != nil {
		hc = *c
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc
}

// webhookOrigin names a webhook's URL in errors and logs by its scheme and host only:
// many receivers (Slack's, Teams', a SOAR's) take the URL's path or query as their
// secret.
func webhookOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the webhook's URL"
	}
	origin := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		origin += "/…"
	}
	return origin
}

func (w *Webhook) post(ctx context.Context, client *http.Client, key []byte, at time.Time, n Notification) (retry bool, err error) {
	p := WebhookPayload{Type: "connection.health_changed", Timestamp: at.Unix(), Notification: n}
	body, err := json.Marshal(p)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook notifier: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vtsoar-webhook")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(p.Timestamp, 10))
	req.Header.Set(HeaderSignature, Sign(key, body))
	if n.ID != "" {
		req.Header.Set(HeaderDelivery, n.ID)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text holds the whole URL
		}
		return true, fmt.Errorf("webhook notifier: %s: %s", webhookOrigin(w.URL), secret.Redact(err.Error(), string(key)))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	if resp.StatusCode/100 == 3 {
		return false, fmt.Errorf("webhook notifier: %s answered %s, a redirect, which is not followed: the URL must be the receiver's own", webhookOrigin(w.URL), resp.Status)
	}
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests
	return retry, fmt.Errorf("webhook notifier: %s answered %s", webhookOrigin(w.URL), resp.Status)
}
