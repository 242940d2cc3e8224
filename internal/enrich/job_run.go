package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// runArgs names one run. It holds no key, no input: River stores it in clear.
type runArgs struct {
	Run string `json:"run"`
	// Follow is how long one input may follow an analysis (the command's analysis
	// timeout and a minute for its budget), beyond the job's time.
	Follow time.Duration `json:"follow,omitempty"`
}

// Kind implements river.JobArgs.
func (runArgs) Kind() string { return "vtsoar.command_run" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (runArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueRuns, MaxAttempts: runMaxAttempts}
}

type runWorker struct {
	river.WorkerDefaults[runArgs]
	s *Service
}

// Timeout implements river.Worker: the job's time, and what an input that follows an
// analysis may take beyond it (River's rescuer leaves a job alone for as long).
func (w *runWorker) Timeout(job *river.Job[runArgs]) time.Duration {
	return w.s.opts.JobTimeout + job.Args.Follow
}

// The slices of a run's job. A job starts inputs for half of JobTimeout (its slice),
// so that the inputs in flight finish within the job's time (and the time an input
// may follow an analysis), and waits for the budget within its slice only: a longer
// wait frees the worker, the job snoozing until a little before the budget allows a
// request (River's scheduler makes a snoozed job available up to 5 s late; the job
// then waits the rest of the way in the limiter, in its place among the waiters).
// While snoozed, the run keeps its place among the budget's waiters (a registration
// at interactive priority), so that the enrichment does not take the unit it waits
// for. An input that follows an analysis waits for the budget as long as its
// analysis' timeout allows instead.
const (
	runWakeEarly = 6 * time.Second
	// runPlaceGrace is how long a snoozed run's registration outlives the time it
	// is due back.
	runPlaceGrace = 10 * time.Second
)

// Work implements river.Worker: it runs the inputs of the run that have no result
// yet, keeping each result as it comes, until they all have one, the run is
// cancelled, the budget makes it wait longer than its slice, or its slice ends.
func (w *runWorker) Work(ctx context.Context, job *river.Job[runArgs]) error {
	s := w.s
	id := job.Args.Run
	run, err := s.st.GetRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // pruned, or its creation rolled back
	}
	if err != nil {
		return err
	}
	if run.Final() {
		return nil
	}
	holder := fmt.Sprintf("%s/%d", s.id, job.ID)
	wasWaiting := run.State == store.RunWaiting
	if run, err = s.st.UpdateRun(ctx, id, store.RunChange{State: store.RunRunning, Hold: holder}); err != nil {
		return err
	}
	end := runEnd{s: s, id: id, holder: holder}
	if run.Final() {
		return end.release(ctx, store.RunChange{})
	}
	err = w.work(ctx, job, run, &end)
	if wasWaiting && !end.snoozed && end.budget != "" {
		// The run no longer waits: its place among the budget's waiters goes.
		if rerr := s.st.RemoveWaiter(context.WithoutCancel(ctx), end.budget, runPlace(id)); rerr != nil {
			s.log.WarnContext(ctx, "removing a run's place among its budget's waiters", "run", id, "error", rerr)
		}
	}
	return err
}

// runEnd lets a run go at the end of a job.
type runEnd struct {
	s       *Service
	id      string
	holder  string
	budget  string
	snoozed bool
}

// release lets the run go with the change ch, and tells the waiters of this process
// when the run is over.
func (e *runEnd) release(ctx context.Context, ch store.RunChange) error {
	_, err := e.releaseRun(ctx, ch)
	return err
}

// releaseRun is release, which returns the run as it is then.
func (e *runEnd) releaseRun(ctx context.Context, ch store.RunChange) (store.Run, error) {
	ch.Release = e.holder
	run, err := e.s.st.UpdateRun(context.WithoutCancel(ctx), e.id, ch)
	if err != nil {
		return run, err
	}
	if run.Final() {
		e.s.runDone.over(e.id)
	}
	return run, nil
}

// fail ends the run as failed, saying why.
func (e *runEnd) fail(ctx context.Context, why string) error {
	e.s.log.WarnContext(ctx, "run failed", "run", e.id, "error", why)
	return e.release(ctx, store.RunChange{State: store.RunFailed, Error: why})
}

func runPlace(id string) string { return "run:" + id }

func (w *runWorker) work(ctx context.Context, job *river.Job[runArgs], run store.Run, end *runEnd) error {
	s := w.s
	p, door, err := prepareRun(run)
	if err != nil {
		return end.fail(ctx, fmt.Sprintf("the run's request cannot be prepared again: %v", err))
	}
	// Whoever asked for the run must still be there, with access to its connection
	// (and to the site of the files it keeps) each time a job takes it up: a run of
	// a user removed, or whose access was taken away, ends without a request.
	u, err := s.st.GetUser(ctx, run.User)
	if errors.Is(err, store.ErrNotFound) {
		return end.fail(ctx, fmt.Sprintf("the user %s was removed", run.User))
	}
	if err != nil {
		return w.retry(ctx, job, end, err)
	}
	conn, err := s.st.GetConnection(ctx, run.Connection)
	if errors.Is(err, store.ErrNotFound) {
		return end.fail(ctx, fmt.Sprintf("the connection %s was removed", run.Connection))
	}
	if err != nil {
		return w.retry(ctx, job, end, err)
	}
	if err := u.MayUse(conn); err != nil {
		return end.fail(ctx, err.Error())
	}
	files, err := w.files(p.Command(), u, door)
	if err != nil {
		return end.fail(ctx, err.Error())
	}
	cc, err := s.clients.Get(ctx, conn)
	if err != nil {
		return end.fail(ctx, fmt.Sprintf("the connection %s cannot be used: %v", run.Connection, err))
	}
	end.budget = cc.Budget()
	kept, err := s.st.RunResults(ctx, run.ID)
	if err != nil {
		return w.retry(ctx, job, end, err)
	}
	done := make([]bool, p.Len())
	for _, k := range kept {
		if k.Index >= 0 && k.Index < len(done) {
			done[k.Index] = true
		}
	}
	var only []int
	for i, d := range done {
		if !d {
			only = append(only, i)
		}
	}
	if len(only) > 0 {
		out, err := w.stream(ctx, run, p, cc, files, only)
		if err != nil {
			var re *command.RequestError
			if errors.As(err, &re) {
				return end.fail(ctx, re.Message(command.REST))
			}
			return w.retry(ctx, job, end, err)
		}
		if out.cancelled {
			return end.release(ctx, store.RunChange{})
		}
		if !out.until.IsZero() {
			return w.snooze(ctx, run, end, out)
		}
		if out.left > 0 {
			// Its time is up (a slice, the job's timeout, the service stopping): the
			// next job goes on with what is left.
			return w.again(ctx, end, 0)
		}
	}
	after, err := end.releaseRun(ctx, store.RunChange{State: store.RunDone})
	if err != nil {
		return err
	}
	if !after.Final() {
		// A result this process keeps because the store refused its write is not
		// counted yet: the run is done once it is written.
		return w.again(ctx, end, time.Second)
	}
	s.log.InfoContext(ctx, "run done", "run", run.ID, "inputs", run.InputsTotal)
	return nil
}

// runFiles are the files of the file store a run's command reads and keeps.
type runFiles struct {
	source command.FileSource
	keep   command.FileKeeper
}

// files returns what cmd reads and keeps of the file store for u, as the synchronous
// request does: the files of u's sites (of door's source, when it names one), and the
// playbook files of door's site, which u must still belong to.
func (w *runWorker) files(cmd *command.Command, u store.User, door runDoor) (runFiles, error) {
	var out runFiles
	if !cmd.TakesFiles && !cmd.WritesFiles {
		return out, nil
	}
	fs := w.s.opts.Files
	if fs == nil {
		return out, fmt.Errorf("%s reads or keeps files of the file store, which this service does not have", cmd.Name)
	}
	if cmd.TakesFiles {
		out.source = fs.Source(func(f store.StoredFile) bool {
			return u.SeesSite(f.Site) && (door.FileSource == "" || f.InSource(door.FileSource))
		})
	}
	if cmd.WritesFiles {
		if !u.SeesSite(door.Site) {
			return out, fmt.Errorf("user %s does not belong to site %q", u.Name, door.Site)
		}
		out.keep = fs.Playbook(door.Site, u.Name, w.s.opts.MaxFileSize, w.s.log)
	}
	return out, nil
}

// streamed is what a job's stream of a run's inputs came to.
type streamed struct {
	// left counts the inputs left without a result.
	left int
	// until, when set, is when the budget allows the run's next request, since when
	// it waits.
	until, since time.Time
	// cancelled reports that the run was cancelled meanwhile.
	cancelled bool
}

// stream runs the inputs only of run's request p on cc, keeping each result that is
// final as it comes.
func (w *runWorker) stream(ctx context.Context, run store.Run, p *command.Prepared, cc *connclient.Conn, files runFiles, only []int) (streamed, error) {
	s := w.s
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var cancelled sync.WaitGroup
	cancelledFlag := make(chan struct{})
	cancelled.Go(func() { watchCancel(rctx, s.st, run.ID, cancel, cancelledFlag) })
	defer cancelled.Wait()

	start := s.now()
	stopAt := start.Add(s.opts.JobTimeout / 2)
	note := &jobNote{unbounded: true}
	obs := &runObserver{s: s, id: run.ID}
	rctx = context.WithValue(rctx, noteKey{}, note)
	rctx = quota.WithObserver(vt.WithPriority(quota.WithRequester(rctx, quota.UserRequester(run.User)), vt.PriorityInteractive), obs)
	var limit *quota.WaitLimit
	if p.AnalysisTimeout() == 0 {
		rctx, limit = quota.WithWaitLimit(rctx, stopAt)
	}
	var timeUp atomic.Bool

	var (
		mu      sync.Mutex
		left    = len(only)
		putErr  error
		budget  bool
		deps    = cc.Deps()
		stopped = func() bool { return rctx.Err() != nil }
	)
	deps.Logger = s.log.With("run", run.ID, "command", run.Command, "connection", run.Connection)
	if files.source != nil {
		deps.Files = files.source
	}
	if files.keep != nil {
		deps.Keep = files.keep
	}
	deps.Admit = func() error {
		if s.now().After(stopAt) {
			timeUp.Store(true)
			return errJobTimeUp
		}
		return nil
	}
	// The results are written by a few writers beside the inputs, which the store
	// groups into shared transactions: an input's result does not wait for the one
	// before it to be written.
	kept := make(chan store.RunResult, 4*runWriters)
	var writers sync.WaitGroup
	for range runWriters {
		writers.Go(func() {
			for res := range kept {
				err := s.st.PutRunResult(context.WithoutCancel(rctx), run.ID, res)
				mu.Lock()
				if err != nil {
					putErr = err
				} else {
					left--
				}
				mu.Unlock()
			}
		})
	}
	err := command.Stream(rctx, deps, p, only, func(res command.Result) {
		if f := res.Err; f != nil {
			switch {
			case f.StatusCode == 429:
				// The budget: the input runs again once it allows a request.
				mu.Lock()
				budget = true
				mu.Unlock()
				return
			case f.StatusCode == 0 && (f.Code == "CanceledError" || f.Code == vt.CodeDeadlineExceeded) && (stopped() || timeUp.Load()):
				return // the job's end, not the input's
			}
		}
		data, err := json.Marshal(res)
		if err != nil {
			mu.Lock()
			putErr = err
			mu.Unlock()
			return
		}
		kept <- store.RunResult{Index: res.Index, Data: data}
	})
	close(kept)
	writers.Wait()
	cancel()
	cancelled.Wait()
	select {
	case <-cancelledFlag:
		return streamed{cancelled: true, left: left}, nil
	default:
	}
	if err != nil {
		return streamed{}, err
	}
	if putErr != nil {
		return streamed{}, putErr
	}
	out := streamed{left: left}
	note.mu.Lock()
	ex := note.exhausted
	note.mu.Unlock()
	switch {
	case ex != nil:
		out.until, out.since = ex.Reset, start
	case limit != nil && limit.Err() != nil:
		we := limit.Err().Wait
		out.until, out.since = we.Until, we.Since
	case budget:
		// VirusTotal refused (429) through the retries; its hold is in the ledger.
		out.until, out.since = start.Add(time.Minute), start
		if u, err := cc.Limiter.Usage(ctx); err == nil && !u.HeldUntil.IsZero() {
			out.until = u.HeldUntil
		}
	}
	if !out.until.IsZero() && left == 0 {
		out.until = time.Time{}
	}
	return out, nil
}

// watchCancel looks at run id every runPoll until ctx ends, and cancels the run's
// work (closing cancelled) once the run is cancelled, or gone.
func watchCancel(ctx context.Context, st store.Runs, id string, cancel context.CancelFunc, cancelled chan struct{}) {
	t := time.NewTicker(runPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		run, err := st.GetRun(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && run.State == store.RunCancelled) {
			close(cancelled)
			cancel()
			return
		}
	}
}

// snooze makes the run wait for its budget: its state says until when, it keeps its
// place among the budget's waiters, and its job comes back a little before then.
func (w *runWorker) snooze(ctx context.Context, run store.Run, end *runEnd, out streamed) error {
	s := w.s
	wait := out.until.Sub(s.now())
	early := min(runWakeEarly, wait/2)
	if err := s.st.PutWaiter(context.WithoutCancel(ctx), end.budget, store.Waiter{ID: runPlace(run.ID),
		Priority: int(vt.PriorityInteractive), Expires: out.until.Add(runPlaceGrace), Requester: quota.UserRequester(run.User),
		Since: out.since}); err != nil {
		s.log.WarnContext(ctx, "keeping a run's place among its budget's waiters", "run", run.ID, "error", err)
	}
	s.log.InfoContext(ctx, "run waits for its budget", "run", run.ID, "until", out.until, "inputs_left", out.left)
	if err := end.release(ctx, store.RunChange{State: store.RunWaiting, ResumesAt: out.until}); err != nil {
		return err
	}
	end.snoozed = true
	return river.JobSnooze(max(wait-early, 0))
}

// again lets the run go for its next job to take up after d.
func (w *runWorker) again(ctx context.Context, end *runEnd, d time.Duration) error {
	if err := end.release(ctx, store.RunChange{}); err != nil {
		return err
	}
	end.snoozed = true
	return river.JobSnooze(d)
}

// retry lets the run go after an error that a later try may not meet (the store
// unavailable); the run fails once its job has no try left.
func (w *runWorker) retry(ctx context.Context, job *river.Job[runArgs], end *runEnd, err error) error {
	if job.Attempt >= job.MaxAttempts {
		return end.fail(ctx, fmt.Sprintf("the run could not go on after %d tries: %v", job.Attempt, err))
	}
	if rerr := end.release(ctx, store.RunChange{}); rerr != nil {
		w.s.log.WarnContext(ctx, "letting a run go", "run", end.id, "error", rerr)
	}
	end.snoozed = true
	return err
}

// runWriters is the number of writers of a run's results.
const runWriters = 16

// errJobTimeUp leaves out the inputs of a run's job whose time to start inputs is
// up: the next job runs them. It is a cancellation, which is what their failure says
// (and is not kept).
var errJobTimeUp = fmt.Errorf("the job's time to start inputs is up; the next job runs them: %w", context.Canceled)

// runObserver keeps a run's state as its requests wait for the budget and resume.
type runObserver struct {
	s  *Service
	id string

	mu      sync.Mutex
	waiting time.Time // the end of the wait last recorded (zero: running)
}

// Waiting implements quota.Observer.
func (o *runObserver) Waiting(w quota.Wait) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if w.Until.Equal(o.waiting) {
		return
	}
	o.waiting = w.Until
	if _, err := o.s.st.UpdateRun(context.Background(), o.id, store.RunChange{State: store.RunWaiting, ResumesAt: w.Until}); err != nil {
		o.s.log.Warn("recording a run's wait", "run", o.id, "error", err)
	}
}

// Resumed implements quota.Observer.
func (o *runObserver) Resumed(quota.Wait) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.waiting.IsZero() {
		return
	}
	o.waiting = time.Time{}
	if _, err := o.s.st.UpdateRun(context.Background(), o.id, store.RunChange{State: store.RunRunning}); err != nil {
		o.s.log.Warn("recording a run's resumption", "run", o.id, "error", err)
	}
}
