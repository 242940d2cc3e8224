package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/export"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/store"
)

// Runner runs commands in the background (an *enrich.Service): the runs of
// POST /api/v1/commands/{command} with Prefer: respond-async, and /api/v1/runs.
type Runner interface {
	SubmitRun(ctx context.Context, r enrich.NewRun) (store.Run, error)
	GetRun(ctx context.Context, id string) (store.Run, error)
	ListRuns(ctx context.Context, f store.RunFilter, p store.Page) ([]store.Run, error)
	RunEnvelope(ctx context.Context, run store.Run) (*command.Envelope, error)
	CancelRun(ctx context.Context, id string) (store.Run, error)
	WaitRun(ctx context.Context, id string, deadline time.Time) (store.Run, error)
}

func (s *Server) runner() (Runner, error) {
	if s.cfg.Runs != nil {
		return s.cfg.Runs, nil
	}
	if r, ok := s.cfg.Enrich.(Runner); ok {
		return r, nil
	}
	return nil, unavailable("the background service is not running in this process: runs are not available")
}

// runOut is a run as the API writes it.
type runOut struct {
	ID          string          `json:"id"`
	Command     string          `json:"command"`
	Connection  string          `json:"connection"`
	User        string          `json:"user"`
	State       string          `json:"state"`
	InputsTotal int             `json:"inputs_total"`
	InputsDone  int             `json:"inputs_done"`
	ResumesAt   *time.Time      `json:"resumes_at"`
	CreatedAt   time.Time       `json:"created_at"`
	FinishedAt  *time.Time      `json:"finished_at"`
	Error       string          `json:"error,omitempty"`
	Envelope    json.RawMessage `json:"envelope,omitempty"`
}

func toRunOut(r store.Run) runOut {
	out := runOut{ID: r.ID, Command: r.Command, Connection: r.Connection, User: r.User, State: r.State,
		InputsTotal: r.InputsTotal, InputsDone: r.InputsDone, CreatedAt: r.CreatedAt, Error: r.Error}
	if r.State == store.RunWaiting && !r.ResumesAt.IsZero() {
		t := r.ResumesAt
		out.ResumesAt = &t
	}
	if !r.FinishedAt.IsZero() {
		t := r.FinishedAt
		out.FinishedAt = &t
	}
	return out
}

// writeRun answers a run with its envelope so far.
func writeRun(w http.ResponseWriter, status int, r store.Run, env *command.Envelope) error {
	out := toRunOut(r)
	if env != nil {
		var buf bytes.Buffer
		if err := env.WriteJSON(&buf, command.JSONFormat{}); err != nil {
			return internal(fmt.Errorf("encoding a run's envelope: %w", err))
		}
		out.Envelope = bytes.TrimSpace(buf.Bytes())
	}
	writeJSON(w, status, out)
	return nil
}

// runLocation is the path of a run.
func runLocation(id string) string { return "/api/v1/runs/" + url.PathEscape(id) }

// submitRun answers POST /api/v1/commands/{command} with Prefer: respond-async: the
// run nr is queued and answered at once (202 with its Location), or, with a wait, the
// envelope when the run is over within it (200).
func (s *Server) submitRun(w http.ResponseWriter, r *http.Request, nr enrich.NewRun, format string, prefs preferences) error {
	rn, err := s.runner()
	if err != nil {
		return err
	}
	p := nr.Prepared
	run, err := rn.SubmitRun(r.Context(), nr)
	if err != nil {
		return internal(err)
	}
	if prefs.hasWait && prefs.wait > 0 {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(prefs.wait + writeTimeout))
		waited, err := rn.WaitRun(r.Context(), run.ID, time.Now().Add(prefs.wait))
		if err != nil && r.Context().Err() == nil {
			return internal(err)
		}
		if err == nil {
			run = waited
		}
	}
	env := p.Envelope(nil)
	if run.InputsDone > 0 {
		if env, err = rn.RunEnvelope(r.Context(), run); err != nil {
			return internal(err)
		}
	}
	if run.State == store.RunDone {
		w.Header().Set("Preference-Applied", "wait="+strconv.Itoa(int(prefs.wait/time.Second)))
		w.Header().Set("Content-Location", runLocation(run.ID))
		if format != "" {
			return writeExport(w, format, env)
		}
		return writeRun(w, http.StatusOK, run, env)
	}
	w.Header().Set("Location", runLocation(run.ID))
	w.Header().Set("Preference-Applied", "respond-async")
	return writeRun(w, http.StatusAccepted, run, env)
}

// quotaWaitRefused is the 429 of a synchronous command whose budget has no request
// free within its Prefer: wait: when it has one again, in Retry-After and in words.
func quotaWaitRefused(conn string, we *quota.WaitError, now time.Time) error {
	wt := we.Wait
	secs := int(math.Ceil(wt.Until.Sub(now).Seconds()))
	why := fmt.Sprintf("%d of %d requests this minute used", wt.Used, wt.Spec.PerMinute)
	if wt.Held {
		why = "VirusTotal answered 429 and asked to wait"
	}
	return &apiError{status: http.StatusTooManyRequests, typ: ProblemQuotaExceeded, retryAfter: max(secs, 1), resumesAt: wt.Until.UTC(),
		detail: fmt.Sprintf("the %s budget of connection %s has no request free before %s (%s), later than the wait asked for; "+
			"ask again then, or with Prefer: respond-async to have it run in the background",
			wt.Spec.Name(), conn, wt.Until.UTC().Format(time.RFC3339), why)}
}

// visibleRun returns run id when u may see it (its own, or any for an admin); another
// user's run is 404, as a missing one.
func (s *Server) visibleRun(ctx context.Context, rn Runner, u *store.User, id string) (store.Run, error) {
	run, err := rn.GetRun(ctx, id)
	if err == nil && run.User != u.Name && u.Role != store.RoleAdmin {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return run, notFound("no run %q", id)
	}
	if err != nil {
		return run, internal(err)
	}
	return run, nil
}

func (s *Server) handleGetRun(w http.ResponseWriter, r *http.Request, u *store.User) error {
	rn, err := s.runner()
	if err != nil {
		return err
	}
	format, err := exportFormat(r)
	if err != nil {
		return err
	}
	run, err := s.visibleRun(r.Context(), rn, u, r.PathValue("id"))
	if err != nil {
		return err
	}
	if format != "" {
		if cmd, ok := command.Lookup(run.Command); ok {
			if err := export.Check(cmd, format); err != nil {
				return badRequest("%v", err)
			}
		}
	}
	env, err := rn.RunEnvelope(r.Context(), run)
	if err != nil {
		return internal(err)
	}
	if format != "" {
		return writeExport(w, format, env)
	}
	return writeRun(w, http.StatusOK, run, env)
}

// runsOut is the answer of GET /api/v1/runs.
type runsOut struct {
	Runs []runOut `json:"runs"`
	// NextCursor, when there may be more, is the ?cursor= of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// handleListRuns answers the caller's runs, newest first, in pages.
func (s *Server) handleListRuns(w http.ResponseWriter, r *http.Request, u *store.User) error {
	rn, err := s.runner()
	if err != nil {
		return err
	}
	page, err := pageParams(r)
	if err != nil {
		return err
	}
	runs, err := rn.ListRuns(r.Context(), store.RunFilter{User: u.Name}, page)
	if err != nil {
		return internal(err)
	}
	var out runsOut
	out.Runs, out.NextCursor = paged(page, runs, toRunOut, store.Run.Cursor)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleCancelRun cancels a run: once it answers, nothing more is sent for it. A run
// already done or failed is 409; one cancelled already is answered as it is.
func (s *Server) handleCancelRun(w http.ResponseWriter, r *http.Request, u *store.User) error {
	rn, err := s.runner()
	if err != nil {
		return err
	}
	run, err := s.visibleRun(r.Context(), rn, u, r.PathValue("id"))
	if err != nil {
		return err
	}
	if run.State == store.RunDone || run.State == store.RunFailed {
		return conflict("run %s is %s already", run.ID, run.State)
	}
	if run, err = rn.CancelRun(r.Context(), run.ID); err != nil {
		return internal(err)
	}
	if run.State != store.RunCancelled {
		return conflict("run %s is %s already", run.ID, run.State)
	}
	writeJSON(w, http.StatusOK, toRunOut(run))
	return nil
}
