package enrich

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/store"
)

// States of a connection in notifications.
const (
	StateHealthy = "healthy"
	StateFailing = "failing"
)

// Notification tells that a connection's health changed. It carries no API key.
type Notification struct {
	// ID identifies the notification; retries of one delivery keep it, so receivers
	// can drop duplicates.
	ID string `json:"id"`
	// Connection is the connection's name and ServerURL its server.
	Connection string `json:"connection"`
	ServerURL  string `json:"server_url"`
	// Healthy is the new state; Previous the state before ("" for a first check) and
	// Since when that state was last seen.
	Healthy  bool      `json:"healthy"`
	Previous string    `json:"previous_state,omitempty"`
	Since    time.Time `json:"previous_at,omitzero"`
	// At is when the check ran; StatusCode and Message what it found.
	At         time.Time        `json:"at"`
	StatusCode int              `json:"status_code"`
	Message    string           `json:"message"`
	QuotaLeft  map[string]int64 `json:"quota_left,omitempty"`
}

// State is the new state's name: "healthy" or "failing".
func (n Notification) State() string { return stateName(n.Healthy) }

// Summary is a one-line description ("connection prod is failing: 401 ...").
func (n Notification) Summary() string {
	if n.Healthy {
		if n.Previous == StateFailing {
			return fmt.Sprintf("connection %s is healthy again", n.Connection)
		}
		return fmt.Sprintf("connection %s is healthy", n.Connection)
	}
	return fmt.Sprintf("connection %s is failing: %s", n.Connection, n.Message)
}

// Notifier delivers notifications. Implementations must not put secrets (API keys,
// their own passwords) in what they send or in their errors.
type Notifier interface {
	// Name identifies the notifier among Options.Notifiers (queued deliveries name
	// it, so it must stay the same across restarts).
	Name() string
	// Notify delivers n; an error makes the delivery be tried again later (a bounded
	// number of times).
	Notify(ctx context.Context, n Notification) error
}

// Addressed is a Notifier that can deliver to other recipients than its own (e-mail:
// the same SMTP server, another list), for a connection that has its own.
type Addressed interface {
	Notifier
	// WithRecipients returns the notifier delivering to to instead.
	WithRecipients(to []string) Notifier
}

// connectionWebhook names the deliveries to a connection's own webhook.
const connectionWebhook = "connection-webhook"

// notifyArgs is one delivery of a notification by one notifier: the service's
// (Notifier), to the connection's own e-mail recipients (To, through the service's
// e-mail notifier), or to the connection's own webhook (Notifier "connection-webhook",
// read from the stored connection at delivery). It holds no secret.
type notifyArgs struct {
	Notifier     string       `json:"notifier"`
	To           []string     `json:"to,omitempty"`
	Notification Notification `json:"notification"`
}

// deliveries are the notifications' deliveries for connection c: to its own
// recipients when it has any (e-mail through the service's e-mail notifier, and its
// webhook), else to every notifier of the service.
func (s *Service) deliveries(ctx context.Context, c store.Connection, n Notification) []notifyArgs {
	if len(c.NotifyEmails) == 0 && c.NotifyWebhookURL == "" {
		out := make([]notifyArgs, 0, len(s.opts.Notifiers))
		for _, nt := range s.opts.Notifiers {
			out = append(out, notifyArgs{Notifier: nt.Name(), Notification: n})
		}
		return out
	}
	var out []notifyArgs
	if len(c.NotifyEmails) > 0 {
		sent := false
		for _, nt := range s.opts.Notifiers {
			if _, ok := nt.(Addressed); ok {
				out = append(out, notifyArgs{Notifier: nt.Name(), To: c.NotifyEmails, Notification: n})
				sent = true
				break
			}
		}
		if !sent {
			s.log.WarnContext(ctx, "the connection's e-mail recipients are not told: vtsoar serve has no SMTP server (--smtp-host)",
				"connection", c.Name)
		}
	}
	if c.NotifyWebhookURL != "" {
		out = append(out, notifyArgs{Notifier: connectionWebhook, Notification: n})
	}
	return out
}

// notifier returns who delivers a: the connection's own webhook as stored now, the
// service's notifier a names (to a's recipients when it has some), or nil when there
// is none any more.
func (s *Service) notifier(ctx context.Context, a notifyArgs) (Notifier, error) {
	if a.Notifier == connectionWebhook {
		c, err := s.st.GetConnection(ctx, a.Notification.Connection)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if c.NotifyWebhookURL == "" {
			return nil, nil
		}
		ref, err := connclient.OpenWebhookSecretRef(s.opts.Cipher, c)
		if err != nil {
			return nil, err
		}
		return &Webhook{URL: c.NotifyWebhookURL, SecretRef: ref, Secrets: s.opts.Client.Secrets,
			Client: s.opts.WebhookClient, NotifierName: connectionWebhook, Now: s.now}, nil
	}
	for _, nt := range s.opts.Notifiers {
		if nt.Name() != a.Notifier {
			continue
		}
		if ad, ok := nt.(Addressed); ok && len(a.To) > 0 {
			return ad.WithRecipients(a.To), nil
		}
		return nt, nil
	}
	return nil, nil
}

// Kind implements river.JobArgs.
func (notifyArgs) Kind() string { return "vtsoar.notify" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (notifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 5}
}

type notifyWorker struct {
	river.WorkerDefaults[notifyArgs]
	s *Service
}

// Work implements river.Worker.
func (w *notifyWorker) Work(ctx context.Context, job *river.Job[notifyArgs]) error {
	nt, err := w.s.notifier(ctx, job.Args)
	if err != nil {
		return err
	}
	if nt == nil {
		w.s.log.WarnContext(ctx, "notification for a notifier no longer configured", "notifier", job.Args.Notifier,
			"connection", job.Args.Notification.Connection)
		return nil
	}
	n := job.Args.Notification
	n.ID = "ntf-" + strconv.FormatInt(job.ID, 10)
	if err := nt.Notify(ctx, n); err != nil {
		w.s.log.WarnContext(ctx, "notification not delivered", "notifier", nt.Name(), "connection", n.Connection,
			"attempt", job.Attempt, "error", err)
		return err
	}
	w.s.log.InfoContext(ctx, "notification delivered", "notifier", nt.Name(), "connection", n.Connection, "state", n.State())
	return nil
}

// redactURL drops the user information of a URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
