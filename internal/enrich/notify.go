package enrich

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/riverqueue/river"
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

// notifyArgs is one delivery of a notification by one notifier.
type notifyArgs struct {
	Notifier     string       `json:"notifier"`
	Notification Notification `json:"notification"`
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
	for _, nt := range w.s.opts.Notifiers {
		if nt.Name() != job.Args.Notifier {
			continue
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
	w.s.log.WarnContext(ctx, "notification for a notifier no longer configured", "notifier", job.Args.Notifier)
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
