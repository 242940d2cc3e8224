package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/vtsoar/vtsoar/ioc"
)

// Statuses of an event.
const (
	EventPending   = "pending"
	EventEnriching = "enriching"
	EventDone      = "done"
)

// Statuses of an artifact; ArtifactDone and ArtifactError are final.
const (
	ArtifactPending = "pending"
	ArtifactDone    = "done"
	ArtifactError   = "error"
)

// Event is an event of the System Reputation Check: artifacts of a site, each
// enriched in the background, the event taking the highest risk of its artifacts.
type Event struct {
	// ID identifies the event (chosen by the caller of CreateEvent).
	ID string
	// Site is the site (tenant) the event belongs to.
	Site string
	// Status is EventPending, EventEnriching or EventDone (every artifact final).
	Status string
	// RiskLevelCode is the risk code (1 High ... 5 ZeroRisk) of the event, as computed
	// over its final artifacts.
	RiskLevelCode int
	// ArtifactCount and FinishedCount count the artifacts and the final ones.
	ArtifactCount, FinishedCount int
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt, UpdatedAt time.Time
	// Artifacts are the event's artifacts in their order (set by GetEvent only).
	Artifacts []Artifact
}

// Artifact is one observable of an event and what its enrichment found.
type Artifact struct {
	// Index is the artifact's position in its event.
	Index int
	// Type and Value are the observable as posted.
	Type  ioc.Kind
	Value string
	// Status is ArtifactPending, ArtifactDone or ArtifactError.
	Status string
	// RiskLevelCode and RiskReason are the verdict (4, N/A, until known).
	RiskLevelCode int
	RiskReason    string
	// Connection is the connection that answered.
	Connection string
	// ObjectID is VirusTotal's id of the object that answered (a file's sha256...).
	ObjectID string
	// Error says why the artifact could not be enriched (Status ArtifactError).
	Error string
	// UpdatedAt is set by the store.
	UpdatedAt time.Time
}

// Final reports whether the artifact's enrichment is over.
func (a Artifact) Final() bool { return a.Status == ArtifactDone || a.Status == ArtifactError }

// ArtifactState is the part of an artifact that decides its event's risk.
type ArtifactState struct {
	Status        string
	RiskLevelCode int
}

// Events stores events and their artifacts.
type Events interface {
	// CreateEvent stores ev with its artifacts, all pending, and calls inTx (when not
	// nil) within the same transaction with the implementation's transaction (a
	// *sql.Tx for SQLite), so that work queued there (jobs of a queue in the same
	// database) is committed or rolled back together with the event. ErrExists if the
	// id is taken.
	CreateEvent(ctx context.Context, ev Event, inTx func(ctx context.Context, tx any) error) (Event, error)
	// GetEvent returns an event with its artifacts; ErrNotFound if there is none.
	GetEvent(ctx context.Context, id string) (Event, error)
	// GetArtifact returns an event (without its artifacts) and one of its artifacts;
	// ErrNotFound if either does not exist.
	GetArtifact(ctx context.Context, eventID string, index int) (Event, Artifact, error)
	// ListEvents returns the newest events (without artifacts) of the given sites (nil:
	// every site), at most limit (<= 0: 100).
	ListEvents(ctx context.Context, sites []string, limit int) ([]Event, error)
	// StartEvent moves a pending event to EventEnriching (no change otherwise).
	StartEvent(ctx context.Context, id string) error
	// FinishArtifact records the final result of artifact a.Index of event eventID,
	// unless it is already final (then it returns the event unchanged and false). In
	// the same transaction it recomputes the event: its risk is risk(states of its
	// final artifacts) and its status EventDone once every artifact is final.
	FinishArtifact(ctx context.Context, eventID string, a Artifact, risk func([]ArtifactState) int) (Event, bool, error)
}

// HealthCheck is the result of one test of a connection.
type HealthCheck struct {
	Connection string
	At         time.Time
	Healthy    bool
	// StatusCode is the server's HTTP status (0 when no answer came).
	StatusCode int
	// Message says what went wrong (or "ok").
	Message string
	// QuotaLeft is the requests left per quota window as the server reported them.
	QuotaLeft map[string]int64
}

// HealthChecks stores the history of connection health checks.
type HealthChecks interface {
	// RecordHealthCheck stores h and returns the connection's previous check, read in
	// the same transaction (ok false when h is the first), so that of several
	// processes checking one connection each sees one transition at most once. inTx,
	// when not nil, is called within that transaction with the implementation's
	// transaction (as in CreateEvent) and the previous check, to queue notifications
	// that commit together with the check.
	RecordHealthCheck(ctx context.Context, h HealthCheck, inTx func(ctx context.Context, tx any, prev HealthCheck, ok bool) error) (prev HealthCheck, ok bool, err error)
	// HealthHistory returns a connection's checks, newest first, at most limit (<= 0:
	// 100).
	HealthHistory(ctx context.Context, connection string, limit int) ([]HealthCheck, error)
	// LastHealthChecks returns the newest check of every connection that has one.
	LastHealthChecks(ctx context.Context) (map[string]HealthCheck, error)
}

// SQLDB is implemented by stores on database/sql (SQLite): DB returns the pool, for a
// job queue that keeps its tables in the same database (riverqueue's riversqlite
// driver). Callers type-assert a Store to it.
type SQLDB interface {
	DB() *sql.DB
}
