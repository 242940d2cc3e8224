package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// States of a run. RunDone, RunCancelled and RunFailed are final.
const (
	// RunQueued: accepted, not started yet.
	RunQueued = "queued"
	// RunRunning: a worker runs its inputs.
	RunRunning = "running"
	// RunWaiting: its next input waits for the connection's budget, until ResumesAt.
	RunWaiting = "waiting"
	// RunDone: every input has its result.
	RunDone = "done"
	// RunCancelled: cancelled by its user (or an admin); the results kept stay.
	RunCancelled = "cancelled"
	// RunFailed: the command could not run at all (its connection was removed, say);
	// Error says why.
	RunFailed = "failed"
)

// Run is a command asked to run without holding the request that asked it: its
// inputs are worked by a job of the queue, and each input's result is kept as it
// finishes.
type Run struct {
	// ID identifies the run (chosen by the caller of CreateRun).
	ID string
	// User is who asked for it: the run is visible to them and to admins.
	User string
	// Command and Connection are the command and the stored connection it runs on.
	Command, Connection string
	// Request is the prepared request's JSON form (command.Prepared's), from which
	// the worker prepares it again.
	Request []byte
	// State is RunQueued, RunRunning, RunWaiting, RunDone, RunCancelled or RunFailed.
	State string
	// InputsTotal counts the inputs the run answers; InputsDone those with a result.
	InputsTotal, InputsDone int
	// ResumesAt is, while RunWaiting, when the budget next allows a request.
	ResumesAt time.Time
	// Error says why a RunFailed run could not run.
	Error string
	// JobID is the queue's job that works the run.
	JobID int64
	// Worker names the worker that holds the run ("" when none does).
	Worker string
	// CreatedAt, UpdatedAt and FinishedAt (zero until final) are set by the store.
	CreatedAt, UpdatedAt, FinishedAt time.Time
}

// Final reports whether the run is over (done, cancelled or failed).
func (r Run) Final() bool { return FinalRunState(r.State) }

// FinalRunState reports whether state is a final state of a run.
func FinalRunState(state string) bool {
	return state == RunDone || state == RunCancelled || state == RunFailed
}

// RunResult is the result of one input of a run, as its caller encoded it.
type RunResult struct {
	// Index is the input's position.
	Index int
	// Data is the encoded result (command.Result's JSON).
	Data []byte
}

// RunFilter selects runs to list.
type RunFilter struct {
	// User, when not empty, keeps the runs of that user only.
	User string
}

// Cursor is the run's position in a list of runs (Page.After).
func (r Run) Cursor() Cursor { return Cursor{CreatedAt: r.CreatedAt, ID: r.ID} }

// RunChange is a change of a run's state by its worker (UpdateRun).
type RunChange struct {
	// State is the new state ("" leaves it). RunDone is taken only once every input
	// has its result; a final run keeps its state.
	State string
	// ResumesAt goes with RunWaiting.
	ResumesAt time.Time
	// Error goes with RunFailed.
	Error string
	// Hold, when not empty, names the worker that holds the run from now on.
	Hold string
	// Release, when not empty, names a worker that lets the run go: Worker is cleared
	// if that worker still holds it.
	Release string
}

// Runs stores runs and their inputs' results.
type Runs interface {
	// CreateRun stores r as RunQueued and calls inTx (when not nil) within the same
	// transaction, before the run's record is written: inTx queues the run's job and
	// returns its id (kept as JobID), so that the run and its job are committed or
	// rolled back together. ErrExists if the id is taken.
	CreateRun(ctx context.Context, r Run, inTx func(ctx context.Context, tx *sql.Tx) (int64, error)) (Run, error)
	// GetRun returns a run; ErrNotFound if there is none.
	GetRun(ctx context.Context, id string) (Run, error)
	// ListRuns returns a page of the runs f selects, newest first (without their
	// results).
	ListRuns(ctx context.Context, f RunFilter, p Page) ([]Run, error)
	// RunResults returns the results of a run's finished inputs, by index, those this
	// process keeps because their write failed included.
	RunResults(ctx context.Context, id string) ([]RunResult, error)
	// PutRunResult records the result of one input of run id (a second result of
	// the same input is ignored) and counts it in InputsDone. When the database
	// refuses the write, the result is kept in memory and written when it answers
	// again, as cache answers are (RunResults finds it meanwhile); it returns an error
	// only when it could not be kept either.
	PutRunResult(ctx context.Context, id string, res RunResult) error
	// UpdateRun changes a run's state as its worker sees it, and returns the run as
	// it is then.
	UpdateRun(ctx context.Context, id string, ch RunChange) (Run, error)
	// CancelRun makes a run that is not final RunCancelled and returns it as it is
	// then (a final run unchanged).
	CancelRun(ctx context.Context, id string) (Run, error)
	// PruneRuns deletes the runs created before before, with their results, and
	// returns how many.
	PruneRuns(ctx context.Context, before time.Time) (int, error)
}

const runColumns = `id, user_name, command, connection, request, state, inputs_total, inputs_done, resumes_at, error,
job_id, worker, created_at, updated_at, finished_at`

// runKeys are the keys (see writeKeyed) of the transactions that write run id and its
// results.
func runKeys(id string) []string { return []string{"run\x00" + id} }

// CreateRun implements Runs.
func (s *sqlStore) CreateRun(ctx context.Context, r Run, inTx func(context.Context, *sql.Tx) (int64, error)) (Run, error) {
	if strings.TrimSpace(r.ID) == "" {
		return Run{}, errors.New("store: run id is empty")
	}
	now := s.opts.now().UTC().Truncate(time.Microsecond)
	r.State, r.InputsDone, r.ResumesAt, r.Error, r.Worker = RunQueued, 0, time.Time{}, "", ""
	r.CreatedAt, r.UpdatedAt, r.FinishedAt = now, now, time.Time{}
	err := s.writeKeyed(ctx, runKeys(r.ID), func(tx *sql.Tx) error {
		var n int
		count, err := s.txStmt(ctx, tx, `SELECT COUNT(*) FROM runs WHERE id = ?`)
		if err != nil {
			return err
		}
		if err := count.QueryRowContext(ctx, r.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("run %s: %w", r.ID, ErrExists)
		}
		if inTx != nil {
			if r.JobID, err = inTx(ctx, tx); err != nil {
				return err
			}
		}
		ins, err := s.txStmt(ctx, tx, `INSERT INTO runs (`+runColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, '', ?, '', ?, ?, 0)`)
		if err != nil {
			return err
		}
		_, err = ins.ExecContext(ctx, r.ID, r.User, r.Command, r.Connection, string(r.Request), r.State, r.InputsTotal, r.JobID,
			micros(now), micros(now))
		return err
	})
	if err != nil {
		return Run{}, fmt.Errorf("store: create run: %w", err)
	}
	return r, nil
}

func scanRun(r rowScanner) (Run, error) {
	var (
		run                                 Run
		request                             string
		resumes, created, updated, finished int64
	)
	if err := r.Scan(&run.ID, &run.User, &run.Command, &run.Connection, &request, &run.State, &run.InputsTotal,
		&run.InputsDone, &resumes, &run.Error, &run.JobID, &run.Worker, &created, &updated, &finished); err != nil {
		return Run{}, err
	}
	run.Request = []byte(request)
	run.CreatedAt, run.UpdatedAt = fromMicros(created), fromMicros(updated)
	if resumes != 0 {
		run.ResumesAt = fromMicros(resumes)
	}
	if finished != 0 {
		run.FinishedAt = fromMicros(finished)
	}
	return run, nil
}

const runGetSQL = `SELECT ` + runColumns + ` FROM runs WHERE id = ?`

// getRun reads run id in tx, or outside a transaction when tx is nil.
func (s *sqlStore) getRun(ctx context.Context, tx *sql.Tx, id string) (Run, error) {
	var row *sql.Row
	if tx == nil {
		row = s.queryRow(ctx, runGetSQL, id)
	} else {
		st, err := s.txStmt(ctx, tx, runGetSQL)
		if err != nil {
			return Run{}, err
		}
		row = st.QueryRowContext(ctx, id)
	}
	run, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	return run, err
}

// GetRun implements Runs.
func (s *sqlStore) GetRun(ctx context.Context, id string) (Run, error) {
	run, err := s.getRun(ctx, nil, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Run{}, fmt.Errorf("store: get run: %w", err)
	}
	return run, err
}

// ListRuns implements Runs.
func (s *sqlStore) ListRuns(ctx context.Context, f RunFilter, p Page) ([]Run, error) {
	var (
		where []string
		args  []any
	)
	if f.User != "" {
		where, args = append(where, `user_name = ?`), append(args, f.User)
	}
	q, args := pageQuery(p, where, args)
	runs, err := queryAll(ctx, s.db, scanRun, `SELECT `+runColumns+` FROM runs`+q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	return runs, nil
}

// RunResults implements Runs.
func (s *sqlStore) RunResults(ctx context.Context, id string) ([]RunResult, error) {
	out, err := queryAll(ctx, s.db, func(r rowScanner) (RunResult, error) {
		var (
			res      RunResult
			data     []byte
			encoding string
		)
		if err := r.Scan(&res.Index, &data, &encoding); err != nil {
			return res, err
		}
		var err error
		res.Data, err = decodeBody(data, encoding)
		return res, err
	}, `SELECT idx, result, encoding FROM run_results WHERE run_id = ? ORDER BY idx`, id)
	if err != nil {
		return nil, fmt.Errorf("store: run results: %w", err)
	}
	if kept := s.backlog.keptResults(id); len(kept) > 0 {
		for _, res := range out {
			delete(kept, res.Index)
		}
		for _, res := range kept {
			out = append(out, res)
		}
		slices.SortFunc(out, func(a, b RunResult) int { return a.Index - b.Index })
	}
	return out, nil
}

// The statements of a run's result.
const (
	runResultPutSQL = `INSERT INTO run_results (run_id, idx, result, encoding) VALUES (?, ?, ?, ?)
ON CONFLICT (run_id, idx) DO NOTHING`
	runResultCountSQL = `UPDATE runs SET inputs_done = inputs_done + 1, updated_at = ? WHERE id = ?`
)

// op is the batch write of res, a result of run: the result, and the run's count of
// done inputs when it is the input's first.
func (s *sqlStore) resultOp(run string, res RunResult, now time.Time) *batchOp {
	data, encoding := encodeBody(nil, res.Data)
	return &batchOp{keys: runKeys(run), size: len(data) + len(run), apply: func(ctx context.Context, tx *sql.Tx) error {
		put, err := s.txStmt(ctx, tx, runResultPutSQL)
		if err != nil {
			return err
		}
		done, err := put.ExecContext(ctx, run, res.Index, data, encoding)
		if err != nil {
			return err
		}
		if n, err := done.RowsAffected(); err != nil || n == 0 {
			return err
		}
		count, err := s.txStmt(ctx, tx, runResultCountSQL)
		if err != nil {
			return err
		}
		_, err = count.ExecContext(ctx, micros(now), run)
		return err
	}}
}

// PutRunResult implements Runs.
func (s *sqlStore) PutRunResult(ctx context.Context, id string, res RunResult) error {
	op := s.resultOp(id, res, s.opts.now())
	written, err := s.batch.do(ctx, op)
	if !written {
		// The caller gave up; the write goes on, and a failure of it is kept.
		go func() {
			if err := <-op.done; err != nil {
				s.backlog.keepResult(id, res, err)
			}
		}()
		return fmt.Errorf("store: run result: %w", err)
	}
	if err != nil {
		if s.backlog.keepResult(id, res, err) {
			return nil
		}
		return fmt.Errorf("store: run result: %w", err)
	}
	return nil
}

// UpdateRun implements Runs.
func (s *sqlStore) UpdateRun(ctx context.Context, id string, ch RunChange) (Run, error) {
	var run Run
	err := s.writeKeyed(ctx, runKeys(id), func(tx *sql.Tx) error {
		var err error
		if run, err = s.getRun(ctx, tx, id); err != nil {
			return err
		}
		now := s.opts.now().UTC().Truncate(time.Microsecond)
		switch {
		case ch.Hold != "":
			run.Worker = ch.Hold
		case ch.Release != "" && run.Worker == ch.Release:
			run.Worker = ""
		}
		if ch.State != "" && !run.Final() && (ch.State != RunDone || run.InputsDone >= run.InputsTotal) {
			run.State = ch.State
			run.ResumesAt = time.Time{}
			switch ch.State {
			case RunWaiting:
				run.ResumesAt = ch.ResumesAt.UTC()
			case RunFailed:
				run.Error = ch.Error
			}
			if run.Final() {
				run.FinishedAt = now
			}
		}
		run.UpdatedAt = now
		return s.writeRun(ctx, tx, run)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Run{}, fmt.Errorf("store: update run: %w", err)
	}
	return run, err
}

// writeRun writes what a worker or a cancel changes of a run.
func (s *sqlStore) writeRun(ctx context.Context, tx *sql.Tx, r Run) error {
	var resumes, finished int64
	if !r.ResumesAt.IsZero() {
		resumes = micros(r.ResumesAt)
	}
	if !r.FinishedAt.IsZero() {
		finished = micros(r.FinishedAt)
	}
	up, err := s.txStmt(ctx, tx, `UPDATE runs SET state = ?, resumes_at = ?, error = ?, worker = ?, updated_at = ?,
finished_at = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	_, err = up.ExecContext(ctx, r.State, resumes, r.Error, r.Worker, micros(r.UpdatedAt), finished, r.ID)
	return err
}

// CancelRun implements Runs.
func (s *sqlStore) CancelRun(ctx context.Context, id string) (Run, error) {
	var run Run
	err := s.writeKeyed(ctx, runKeys(id), func(tx *sql.Tx) error {
		var err error
		if run, err = s.getRun(ctx, tx, id); err != nil || run.Final() {
			return err
		}
		now := s.opts.now().UTC().Truncate(time.Microsecond)
		run.State, run.ResumesAt, run.UpdatedAt, run.FinishedAt = RunCancelled, time.Time{}, now, now
		return s.writeRun(ctx, tx, run)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Run{}, fmt.Errorf("store: cancel run: %w", err)
	}
	return run, err
}

// PruneRuns implements Runs.
func (s *sqlStore) PruneRuns(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		b := micros(before)
		if _, err := tx.ExecContext(ctx, `DELETE FROM run_results WHERE run_id IN (SELECT id FROM runs WHERE created_at < ?)`, b); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE created_at < ?`, b)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune runs: %w", err)
	}
	return int(n), nil
}
