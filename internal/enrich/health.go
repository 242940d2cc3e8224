package enrich

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/riverqueue/river"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// sweepArgs is the periodic job that queues due health checks.
type sweepArgs struct{}

// Kind implements river.JobArgs.
func (sweepArgs) Kind() string { return "vtsoar.health_sweep" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (sweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1}
}

// healthArgs is the check of one connection in one interval slot: unique by its
// arguments, so that replicas sweeping at once queue it once.
type healthArgs struct {
	Connection string `json:"connection"`
	Slot       int64  `json:"slot"`
}

// Kind implements river.JobArgs.
func (healthArgs) Kind() string { return "vtsoar.health_check" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (healthArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	s *Service
}

// Work implements river.Worker: it queues a check of every connection whose interval
// has passed since its last check.
func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	s := w.s
	conns, err := s.st.ListConnections(ctx)
	if err != nil {
		return err
	}
	last, err := s.st.LastHealthChecks(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	// A check is due a little before its interval is over, so that sweeps on a
	// one-minute tick keep the interval instead of stretching it by a tick.
	slack := s.opts.HealthSweepInterval / 2
	var params []river.InsertManyParams
	for _, c := range conns {
		if c.HealthCheckMinutes <= 0 || c.Inactive {
			continue // no schedule, or an inactive connection: nothing is sent on it
		}
		every := time.Duration(c.HealthCheckMinutes) * s.opts.HealthMinute
		if h, ok := last[c.Name]; ok && now.Sub(h.At) < every-slack {
			continue
		}
		params = append(params, river.InsertManyParams{Args: healthArgs{Connection: c.Name, Slot: now.UnixNano() / int64(every)}})
	}
	for _, p := range params {
		// One by one: unique jobs are skipped, not failed, when already queued.
		if _, err := s.river.Insert(ctx, p.Args, nil); err != nil {
			return err
		}
	}
	return nil
}

type healthWorker struct {
	river.WorkerDefaults[healthArgs]
	s *Service
}

// Work implements river.Worker.
func (w *healthWorker) Work(ctx context.Context, job *river.Job[healthArgs]) error {
	_, err := w.s.CheckConnection(ctx, job.Args.Connection)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInactive) {
		return nil // removed, or made inactive, since the sweep
	}
	return err
}

// CheckConnection tests a connection now (GET /users/{key} at background priority),
// records the result in its history and, when its health changed (or a first check
// fails), queues a notification to every notifier in the same transaction. A
// connection that cannot be tested because its own daily or monthly budget is spent
// is not recorded (the connection is not at fault): the error wraps the
// *quota.ExhaustedError. An inactive connection is not tested, nor recorded: the
// error wraps store.ErrInactive. A key stored as a reference is resolved again
// for the test.
func (s *Service) CheckConnection(ctx context.Context, name string) (HealthCheck, error) {
	c, err := s.st.GetConnection(ctx, name)
	if err != nil {
		return HealthCheck{}, err
	}
	if c.Inactive {
		return HealthCheck{}, &connclient.InactiveError{Name: name}
	}
	h := store.HealthCheck{Connection: name}
	conn, err := s.clients.GetFresh(ctx, c)
	if errors.Is(err, store.ErrInactive) {
		return HealthCheck{}, err
	}
	if err != nil {
		h.Message = command.TestConnection().FailureIndicator + " Cannot use the connection: " + err.Error()
	} else {
		note := &jobNote{}
		rctx := context.WithValue(vt.WithPriority(quota.WithDefaultRequester(ctx, quota.RequesterHealthCheck), vt.PriorityBackground), noteKey{}, note)
		env, err := command.Run(rctx, conn.Deps(), s.testConnection)
		if err != nil {
			return HealthCheck{}, err
		}
		note.mu.Lock()
		ex := note.exhausted
		note.mu.Unlock()
		if ex != nil {
			return HealthCheck{}, fmt.Errorf("health check of %s skipped: %w", name, ex)
		}
		if ctx.Err() != nil {
			return HealthCheck{}, ctx.Err()
		}
		if env.ReturnData == command.Successful {
			h.Healthy, h.StatusCode, h.Message = true, 200, "ok"
			if u, ok := env.ContextData[0].Fields.(*command.UserFields); ok && len(u.QuotaLeft) > 0 {
				h.QuotaLeft = maps.Clone(u.QuotaLeft)
			}
		} else {
			f := env.Errors[0]
			h.StatusCode = f.StatusCode
			h.Message = conn.Redact(f.Line())
		}
	}
	h.At = s.now().UTC().Truncate(time.Microsecond)
	changed := false
	_, _, err = s.st.RecordHealthCheck(ctx, h, func(ctx context.Context, tx *sql.Tx, prev store.HealthCheck, hadPrev bool) error {
		changed = hadPrev && prev.Healthy != h.Healthy || !hadPrev && !h.Healthy
		if hadPrev && prev.Healthy == h.Healthy || !hadPrev && h.Healthy {
			return nil
		}
		n := Notification{
			Connection: name, Healthy: h.Healthy, At: h.At, StatusCode: h.StatusCode, Message: h.Message,
			ServerURL: redactURL(serverOf(c)), QuotaLeft: h.QuotaLeft,
		}
		if hadPrev {
			n.Previous = stateName(prev.Healthy)
			n.Since = prev.At
		}
		for _, d := range s.deliveries(ctx, c, n) {
			if _, err := s.river.InsertTx(ctx, tx, d, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return HealthCheck{}, fmt.Errorf("enrich: record health check of %s: %w", name, err)
	}
	// A check that changes nothing is routine (one per interval and connection): it
	// shows at debug level; a change of health, or a failing first check, at info.
	level := slog.LevelDebug
	if changed {
		level = slog.LevelInfo
	}
	s.log.Log(ctx, level, "connection checked", "connection", name, "healthy", h.Healthy, "status", h.StatusCode)
	return HealthCheck(h), nil
}

func serverOf(c store.Connection) string {
	if c.ServerURL == "" {
		return vt.DefaultServerURL
	}
	return c.ServerURL
}

func stateName(healthy bool) string {
	if healthy {
		return StateHealthy
	}
	return StateFailing
}
