// Package enrich runs vtsoar's durable background work on a job queue (River) kept in
// the store's database: runs (commands asked over REST with Prefer: respond-async), the
// System Reputation Check of posted events, scheduled connection health checks, and the
// notifications they send.
//
// # Runs
//
// SubmitRun stores a run (the prepared request's JSON form, never a key) and queues its
// job in the same transaction, in a queue of its own (QueueRuns) so that a backlog of
// events never holds back a person's run. A run's job runs the inputs that have no
// result yet (command.Stream with only them) at interactive priority for the run's
// user, and keeps each final result in the store as it comes, so that a job taken up
// again (after a crash, by another replica) asks nothing twice. A job starts inputs for
// half of JobTimeout, then hands the run to the next job; a wait for the budget longer
// than that lets the worker go: the run is "waiting" until the budget's next unit, keeps
// its place among the budget's waiters (store.PutWaiter) and its job is snoozed until a
// little before. CancelRun cancels the run's job and waits until the worker holding it
// (which looks at the run's state every runPoll) has let it go, so that nothing is sent
// after it returns. A periodic job prunes the runs older than Options.RunRetention.
//
// # Events
//
// SubmitEvent stores an event and, in the same transaction, queues one job per
// artifact. A job finds the connections that have the artifact's reputation check
// switched on and serve the event's site, and runs the matching
// check-*-reputation command through internal/command (so the verdict is the one the
// CLI gives) on the first of them, by name, that answers; the client goes through the
// connection's cache and quota budget at enrichment priority. The artifact keeps the
// risk level, its reason, the connection and VirusTotal's object id; the event takes
// the highest risk of its artifacts and is done when every artifact is final (done, or
// error with a reason).
//
// # Durability
//
// Jobs live in the database: a process killed mid-way leaves them running, and
// River's rescuer hands them to a live process once they have run longer than
// Options.RescueStuckJobsAfter (a restarted process, or another replica, picks them
// up). No answer already stored is asked for twice: a job whose artifact is already
// final does nothing, and answers go to the store's cache as soon as they arrive, so a
// job run again after a crash finds its answer there. Only requests in flight at the
// moment of the crash can be repeated. While the database is unavailable (a
// PostgreSQL restart), an answer whose write it refuses is kept by the store in
// memory, where a job run again in this process finds it, until the database takes
// it; and a job waits for the store to record its verdict for as long as it may run.
// A spent daily or monthly budget snoozes the job until the budget resets instead of
// failing it.
//
// Job arguments hold event ids, artifact positions and connection names only, never
// an API key: River stores arguments in clear.
//
// # PostgreSQL and replicas
//
// On a SQLite store the queue is River's SQLite driver on the store's database. On a
// PostgreSQL store (store.PGXPool) it is River's database/sql driver on the store's
// plain handle (store.SQLDB, which runs on the store's pgx pool) with a pgx listener
// on that pool (riverdatabasesql.NewWithPgxListener, which listens through
// riverpgxv5): new jobs and leadership changes are announced with LISTEN/NOTIFY, and
// the client's transaction type is *sql.Tx on both backends. That is what the store
// hands to the callbacks of CreateEvent and RecordHealthCheck, so the jobs of an event
// (and the notifications of a health change) are inserted in the store's own
// transaction, committed or rolled back with it, on both backends, with one client
// and no second driver for inserts. River's queries use $n placeholders, which the
// store's rebinding connections pass through unchanged.
//
// Several replicas on one database share the queue: a job is worked by one of them,
// a replica killed mid-job has its jobs rescued by the others, and periodic jobs (the
// health sweep) are queued by the elected leader only. River's migrations are applied
// under an advisory lock, so replicas starting together apply them once.
//
// # Health checks
//
// A periodic job (every Options.HealthSweepInterval) queues a test of each connection
// whose HealthCheckMinutes have passed since its last check, unique per connection
// and interval slot so that several replicas run one check per interval. A check runs
// test-connection at background priority, is kept in the store's history, and a change
// from healthy to failing or back (or a first check that fails) queues a notification
// to every Notifier, in the transaction that records the check.
package enrich

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// Queue names. Runs have a queue of their own, so that a backlog of events never
// holds back a person's run.
const (
	QueueRuns        = "runs"
	QueueEnrich      = "enrich"
	QueueMaintenance = "maintenance"
)

// Defaults of Options.
const (
	DefaultWorkers              = 8
	DefaultJobTimeout           = 25 * time.Second
	DefaultRescueStuckJobsAfter = 30 * time.Second
	DefaultHealthSweepInterval  = time.Minute
	// DefaultFetchCooldown is the shortest time between two fetches of jobs by one
	// service, while jobs are waiting.
	DefaultFetchCooldown = 10 * time.Millisecond
	// MaxArtifacts bounds the artifacts of one event.
	MaxArtifacts = 10000
	// MaxValueLength bounds an artifact's value.
	MaxValueLength = 8192
)

// ErrInvalidEvent is wrapped by the errors of SubmitEvent for a malformed event.
var ErrInvalidEvent = errors.New("invalid event")

// ClientOptions are the options of the clients the service needs: Client, whose
// limiter reads Clock unless Client.Quota.Now is set and, unless Client.WrapLimiter
// is set, bounds a job's wait for a quota unit to half of JobTimeout and notes spent
// budgets in the job (a request outside a job waits as the limiter says). A process
// that shares its clients between the service and the REST server (Clients) builds
// them with these.
func (o Options) ClientOptions() connclient.Options {
	copts := o.Client
	if copts.Quota.Now == nil {
		copts.Quota.Now = o.Clock
	}
	if copts.WrapLimiter == nil {
		jt := o.JobTimeout
		if jt <= 0 {
			jt = DefaultJobTimeout
		}
		maxWait := jt / 2
		copts.WrapLimiter = func(l *quota.Limiter) vt.Limiter { return noteLimiter{Limiter: l, maxWait: maxWait} }
	}
	return copts
}

// Options configure a Service.
type Options struct {
	// Logger receives what the service does (nil: discard). Never an API key.
	Logger *slog.Logger
	// Cipher opens the stored API keys (used when Clients is nil).
	Cipher *secret.Cipher
	// Client are the options of the clients when Clients is nil.
	Client connclient.Options
	// Clients, when set, are the clients of the connections, shared with the REST
	// server (nil: a connclient.Pool of the service's own, with Cipher and
	// ClientOptions).
	Clients *connclient.Pool
	// Notifiers are told when a connection's health changes, unless the connection
	// has recipients of its own (e-mail addresses, told through the Notifier that is
	// Addressed; a webhook).
	Notifiers []Notifier
	// WebhookClient posts to the connections' own webhooks (nil: a client with a 10s
	// timeout), following no redirect (Webhook.Client).
	WebhookClient *http.Client
	// Workers is the number of artifacts enriched at once (0: DefaultWorkers).
	Workers int
	// Clock returns the current time for health checks, notifications, the deferral
	// of work to a quota's reset and, unless Client.Quota has a clock of its own, the
	// connections' quota limiters (nil: time.Now). The queue keeps its own time.
	Clock func() time.Time
	// JobTimeout bounds one job (0: DefaultJobTimeout); it must be shorter than
	// RescueStuckJobsAfter.
	JobTimeout time.Duration
	// RescueStuckJobsAfter is how long a job may run before it is taken for the job
	// of a dead process and run again (0: DefaultRescueStuckJobsAfter).
	RescueStuckJobsAfter time.Duration
	// HealthSweepInterval is how often connections are looked at for a due health
	// check (0: DefaultHealthSweepInterval).
	HealthSweepInterval time.Duration
	// MaxAge is how old a cached answer may be for enrichment (0:
	// command.DefaultMaxAge).
	MaxAge time.Duration
	// FetchPollInterval is how often the queue looks for new jobs when it is not told
	// (0: River's default, 1s).
	FetchPollInterval time.Duration
	// HealthMinute is the length of a minute of a connection's HealthCheckMinutes (0:
	// time.Minute). Tests shorten it.
	HealthMinute time.Duration
	// PollOnly makes the queue on PostgreSQL look for jobs every FetchPollInterval
	// instead of being told by LISTEN/NOTIFY: for a PostgreSQL reached through a
	// pooler that cannot LISTEN (PgBouncer in transaction mode). SQLite always polls.
	PollOnly bool
	// RunRetention is how long runs and their results are kept (0:
	// DefaultRunRetention).
	RunRetention time.Duration
	// Files is the file store that the runs of the commands that read or keep files
	// use (detonate-files, download-file, retrieve-widget-html-content): the REST
	// server's (nil: such runs fail, saying so).
	Files *store.FileStore
	// MaxFileSize bounds a file a run keeps (0: store.DefaultMaxFileSize).
	MaxFileSize int64
}

// Artifact is one observable of a new event: a type and a value, or a file artifact
// given as an uploaded file of the event's site (FileID), whose sha256 is the value.
type Artifact struct {
	Type   ioc.Kind `json:"type"`
	Value  string   `json:"value,omitempty"`
	FileID string   `json:"file_id,omitempty"`
}

// NewEvent is an event to enrich.
type NewEvent struct {
	Site string `json:"site"`
	// IncidentID is the incident of the same site the event belongs to ("": none).
	IncidentID string     `json:"incident_id,omitempty"`
	Artifacts  []Artifact `json:"artifacts"`
}

// Event is an event and the progress of its enrichment.
type Event struct {
	ID string `json:"id"`
	// Site is the site (tenant) the event belongs to.
	Site string `json:"site"`
	// IncidentID is the incident the event belongs to ("": none).
	IncidentID string `json:"incident_id,omitempty"`
	// Status is "pending", "enriching" or "done".
	Status string `json:"status"`
	// RiskLevel is the highest risk of the artifacts finished so far.
	RiskLevel     string `json:"risk_level"`
	RiskLevelCode int    `json:"risk_level_code"`
	// ArtifactsDone counts the artifacts whose enrichment is over; ArtifactsTotal
	// counts them all, also where Artifacts is left out (ListEvents).
	ArtifactsDone  int              `json:"artifacts_done"`
	ArtifactsTotal int              `json:"artifacts_total"`
	CreatedAt      time.Time        `json:"created_at"`
	UpdatedAt      time.Time        `json:"updated_at"`
	Artifacts      []ArtifactResult `json:"artifacts,omitempty"`
}

// ArtifactResult is an artifact and what its enrichment found.
type ArtifactResult struct {
	Type  ioc.Kind `json:"type"`
	Value string   `json:"value"`
	// FileID is the uploaded file the artifact was posted as ("": a hash).
	FileID string `json:"file_id,omitempty"`
	// Status is "pending", "done" or "error".
	Status        string `json:"status"`
	RiskLevel     string `json:"risk_level"`
	RiskLevelCode int    `json:"risk_level_code"`
	RiskReason    string `json:"risk_reason"`
	// Connection is the connection that answered.
	Connection string `json:"connection,omitempty"`
	// ObjectID is VirusTotal's id of the object.
	ObjectID string `json:"object_id,omitempty"`
	// Error says why the artifact could not be enriched.
	Error string `json:"error,omitempty"`
}

// HealthCheck is the result of one connection test.
type HealthCheck struct {
	Connection string           `json:"connection"`
	At         time.Time        `json:"at"`
	Healthy    bool             `json:"healthy"`
	StatusCode int              `json:"status_code"`
	Message    string           `json:"message"`
	QuotaLeft  map[string]int64 `json:"quota_left,omitempty"`
}

// Service runs the durable background work. Start it once per process.
type Service struct {
	st      store.Store
	db      *sql.DB
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	clients *connclient.Pool
	river   *river.Client[*sql.Tx]
	// testConnection is the health check's request, prepared once.
	testConnection *command.Prepared
	// id names this service's process among the workers of runs: host, process id
	// and a random part.
	id string
	// runDone tells WaitRun in this process when a run is over.
	runDone runWatchers
}

// New prepares the service on st, a SQLite or PostgreSQL store (see the package
// doc): it applies the queue's migrations, so that events can be submitted before
// Start.
func New(ctx context.Context, st store.Store, opts Options) (*Service, error) {
	sqldb, ok := st.(store.SQLDB)
	if !ok {
		return nil, fmt.Errorf("enrich: the job queue needs a SQLite or PostgreSQL store, not %T", st)
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = DefaultJobTimeout
	}
	if opts.RescueStuckJobsAfter <= 0 {
		opts.RescueStuckJobsAfter = DefaultRescueStuckJobsAfter
	}
	if opts.RescueStuckJobsAfter <= opts.JobTimeout {
		return nil, fmt.Errorf("enrich: RescueStuckJobsAfter (%s) must be longer than JobTimeout (%s)", opts.RescueStuckJobsAfter, opts.JobTimeout)
	}
	if opts.HealthSweepInterval <= 0 {
		opts.HealthSweepInterval = DefaultHealthSweepInterval
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = command.DefaultMaxAge
	}
	if opts.HealthMinute <= 0 {
		opts.HealthMinute = time.Minute
	}
	if opts.RunRetention <= 0 {
		opts.RunRetention = DefaultRunRetention
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = store.DefaultMaxFileSize
	}
	s := &Service{st: st, db: sqldb.DB(), opts: opts, log: opts.Logger, now: opts.Clock, id: processID()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	if s.testConnection, err = command.Prepare(command.Request{Command: command.TestConnection().Name}); err != nil {
		return nil, err
	}
	s.clients = opts.Clients
	if s.clients == nil {
		if opts.Cipher == nil {
			return nil, errors.New("enrich: no Cipher to open the connections' keys (and no Clients)")
		}
		s.clients = connclient.NewPool(st, opts.Cipher, opts.ClientOptions())
	}
	names := map[string]bool{}
	for _, n := range opts.Notifiers {
		if names[n.Name()] {
			return nil, fmt.Errorf("enrich: two notifiers are named %q", n.Name())
		}
		names[n.Name()] = true
	}

	var (
		driver riverdriver.Driver[*sql.Tx]
		lock   func(context.Context) (func(), error)
	)
	if pg, ok := st.(store.PGXPool); ok {
		driver = riverdatabasesql.NewWithPgxListener(s.db, pg.Pool())
		if opts.PollOnly {
			driver = riverdatabasesql.New(s.db)
		}
		lock = func(ctx context.Context) (func(), error) { return migrationLock(ctx, pg) }
	} else {
		driver = riversqlite.New(s.db)
	}
	if err := s.migrate(ctx, driver, lock); err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &enrichWorker{s: s})
	river.AddWorker(workers, &sweepWorker{s: s})
	river.AddWorker(workers, &healthWorker{s: s})
	river.AddWorker(workers, &notifyWorker{s: s})
	river.AddWorker(workers, &runWorker{s: s})
	river.AddWorker(workers, &pruneRunsWorker{s: s})
	cfg := &river.Config{
		Logger: quiet(s.log).With("component", "river"),
		Queues: map[string]river.QueueConfig{
			QueueRuns:        {MaxWorkers: opts.Workers},
			QueueEnrich:      {MaxWorkers: opts.Workers},
			QueueMaintenance: {MaxWorkers: 2},
		},
		Workers:              workers,
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: opts.RescueStuckJobsAfter,
		FetchPollInterval:    opts.FetchPollInterval,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(opts.HealthSweepInterval),
				func() (river.JobArgs, *river.InsertOpts) { return sweepArgs{}, nil },
				&river.PeriodicJobOpts{ID: "health_sweep", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(runPruneInterval),
				func() (river.JobArgs, *river.InsertOpts) { return pruneRunsArgs{}, nil },
				&river.PeriodicJobOpts{ID: "prune_runs", RunOnStart: true}),
		},
	}
	// River fetches jobs at most once per FetchCooldown, which bounds a replica's
	// throughput to Workers per cooldown: River's default of 100 ms held 8 workers to
	// 80 artifacts/s against a VirusTotal answering in 20 ms.
	cfg.FetchCooldown = DefaultFetchCooldown
	if opts.FetchPollInterval > 0 && opts.FetchPollInterval < cfg.FetchCooldown {
		cfg.FetchCooldown = opts.FetchPollInterval
	}
	rc, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("enrich: %w", err)
	}
	s.river = rc
	return s, nil
}

// migrationLockKey is the advisory lock (one bigint key, "vtsoar river migrate")
// held on PostgreSQL while River's migrations are applied.
const migrationLockKey = 0x767473_72697672

// migrationLock takes the PostgreSQL advisory lock of River's migrations on a
// connection of its own, and returns its release.
func migrationLock(ctx context.Context, pg store.PGXPool) (func(), error) {
	conn, err := pg.Pool().Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLockKey)); err != nil {
		conn.Release()
		return nil, err
	}
	return func() {
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(migrationLockKey)); err != nil {
			conn.Conn().Close(context.Background()) // a closed session holds no lock
		}
		conn.Release()
	}, nil
}

// migrate applies River's schema, under lock when there is one (PostgreSQL). Two
// processes starting on a new SQLite database may race; the loser tries again once
// the winner is done.
func (s *Service) migrate(ctx context.Context, driver riverdriver.Driver[*sql.Tx], lock func(context.Context) (func(), error)) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(s.log).With("component", "rivermigrate")})
	if err != nil {
		return fmt.Errorf("enrich: queue migrations: %w", err)
	}
	if lock != nil {
		unlock, err := lock(ctx)
		if err != nil {
			return fmt.Errorf("enrich: queue migrations: lock: %w", err)
		}
		defer unlock()
	}
	for attempt := 0; ; attempt++ {
		_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err == nil || attempt == 2 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("enrich: queue migrations: %w", err)
	}
	return nil
}

// Start starts working jobs. Work stops when ctx is cancelled or Stop is called.
func (s *Service) Start(ctx context.Context) error {
	if err := s.river.Start(ctx); err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for the running ones until ctx ends; jobs still
// running then are cancelled and run again later. A service that was never started
// stops at once (River's client tolerates it).
func (s *Service) Stop(ctx context.Context) error {
	err := s.river.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		hard, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.river.StopAndCancel(hard)
	}
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	return nil
}

// processID names this process among the workers of runs.
func processID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func newEventID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "ev_" + hex.EncodeToString(b[:])
}

// SubmitEvent stores the event and queues one enrichment job per artifact, in one
// transaction; it returns at once. A malformed event (no artifacts, an unknown type,
// an empty value, a file id with a value or of another type than file, a file id that
// names no file of the event's site) is an error wrapping ErrInvalidEvent; a value
// that is not a valid observable of its type is accepted and ends as an artifact in
// error. The event's incident, if any, must be of the event's site (an error
// wrapping store.ErrNotFound when there is no such incident).
func (s *Service) SubmitEvent(ctx context.Context, ev NewEvent) (Event, error) {
	if len(ev.Artifacts) == 0 {
		return Event{}, fmt.Errorf("%w: no artifacts", ErrInvalidEvent)
	}
	if len(ev.Artifacts) > MaxArtifacts {
		return Event{}, fmt.Errorf("%w: %d artifacts, at most %d", ErrInvalidEvent, len(ev.Artifacts), MaxArtifacts)
	}
	rec := store.Event{ID: newEventID(), Site: ev.Site, IncidentID: ev.IncidentID, RiskLevelCode: risk.NA.Code()}
	for i, a := range ev.Artifacts {
		kind, err := ioc.ParseKind(string(a.Type))
		if err != nil {
			return Event{}, fmt.Errorf("%w: artifact %d: type: %w", ErrInvalidEvent, i, err)
		}
		v := strings.TrimSpace(a.Value)
		switch {
		case a.FileID != "" && kind != ioc.KindFile:
			return Event{}, fmt.Errorf("%w: artifact %d: file_id is for a file artifact, not %s", ErrInvalidEvent, i, kind)
		case a.FileID != "" && v != "":
			return Event{}, fmt.Errorf("%w: artifact %d: a value or a file_id, not both (the file's sha256 is the value)", ErrInvalidEvent, i)
		case a.FileID != "":
		case v == "":
			return Event{}, fmt.Errorf("%w: artifact %d: empty value", ErrInvalidEvent, i)
		case len(v) > MaxValueLength:
			return Event{}, fmt.Errorf("%w: artifact %d: value longer than %d bytes", ErrInvalidEvent, i, MaxValueLength)
		}
		rec.Artifacts = append(rec.Artifacts, store.Artifact{Type: kind, Value: v, FileID: a.FileID})
	}
	created, err := s.st.CreateEvent(ctx, rec, func(ctx context.Context, tx *sql.Tx) error {
		params := make([]river.InsertManyParams, len(rec.Artifacts))
		for i := range rec.Artifacts {
			params[i] = river.InsertManyParams{Args: enrichArgs{Event: rec.ID, Artifact: i}}
		}
		_, err := s.river.InsertManyFastTx(ctx, tx, params)
		return err
	})
	if fe := (*store.ArtifactFileError)(nil); errors.As(err, &fe) {
		return Event{}, fmt.Errorf("%w: %w", ErrInvalidEvent, fe)
	}
	if err != nil {
		return Event{}, fmt.Errorf("enrich: submit event: %w", err)
	}
	s.log.InfoContext(ctx, "event submitted", "event", created.ID, "site", created.Site, "artifacts", len(created.Artifacts))
	return toEvent(created), nil
}

// GetEvent returns an event with its artifacts; an error wrapping store.ErrNotFound
// when there is none.
func (s *Service) GetEvent(ctx context.Context, id string) (Event, error) {
	ev, err := s.st.GetEvent(ctx, id)
	if err != nil {
		return Event{}, err
	}
	return toEvent(ev), nil
}

// ListEvents returns a page of the events (without their artifacts) that f selects,
// newest first.
func (s *Service) ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]Event, error) {
	evs, err := s.st.ListEvents(ctx, f, p)
	if err != nil {
		return nil, err
	}
	out := make([]Event, len(evs))
	for i, ev := range evs {
		out[i] = toEvent(ev)
	}
	return out, nil
}

// HealthHistory returns a connection's health checks, newest first.
func (s *Service) HealthHistory(ctx context.Context, conn string, limit int) ([]HealthCheck, error) {
	hs, err := s.st.HealthHistory(ctx, conn, limit)
	if err != nil {
		return nil, err
	}
	out := make([]HealthCheck, len(hs))
	for i, h := range hs {
		out[i] = HealthCheck(h)
	}
	return out, nil
}

func levelName(code int) string {
	l := risk.Level(code)
	if !l.Valid() {
		return risk.NA.String()
	}
	return l.String()
}

func toEvent(ev store.Event) Event {
	out := Event{
		ID: ev.ID, Site: ev.Site, IncidentID: ev.IncidentID, Status: ev.Status,
		RiskLevel: levelName(ev.RiskLevelCode), RiskLevelCode: ev.RiskLevelCode,
		ArtifactsDone: ev.FinishedCount, ArtifactsTotal: ev.ArtifactCount, CreatedAt: ev.CreatedAt, UpdatedAt: ev.UpdatedAt,
	}
	for _, a := range ev.Artifacts {
		out.Artifacts = append(out.Artifacts, ArtifactResult{
			Type: a.Type, Value: a.Value, FileID: a.FileID, Status: a.Status,
			RiskLevel: levelName(a.RiskLevelCode), RiskLevelCode: a.RiskLevelCode, RiskReason: a.RiskReason,
			Connection: a.Connection, ObjectID: a.ObjectID, Error: a.Error,
		})
	}
	return out
}

// eventRisk is the event's risk from its final artifacts, and an incident's from its
// events: the highest of them.
func eventRisk(states []store.ArtifactState) int {
	levels := make([]risk.Level, len(states))
	for i, st := range states {
		levels[i] = risk.Level(st.RiskLevelCode)
	}
	return risk.Highest(levels...).Code()
}

// enrichers returns the connections that enrich artifacts of kind for site, by name.
func (s *Service) enrichers(ctx context.Context, kind ioc.Kind, site string) ([]store.Connection, error) {
	all, err := s.st.ListConnections(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Connection
	for _, c := range all {
		if c.Inactive || !hasKind(c.ReputationChecks, kind) || !servesSite(c.Sites, site) {
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func hasKind(kinds []ioc.Kind, k ioc.Kind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// servesSite reports whether a connection shared to sites (empty or "*": all) serves
// site.
func servesSite(sites []string, site string) bool {
	if len(sites) == 0 {
		return true
	}
	for _, x := range sites {
		if x == site || x == store.AllSites {
			return true
		}
	}
	return false
}
