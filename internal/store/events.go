package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
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
	// nil) within the same transaction, so that work queued in tx (jobs of a queue in
	// the same database, see SQLDB) is committed or rolled back together with the
	// event. ErrExists if the id is taken.
	CreateEvent(ctx context.Context, ev Event, inTx func(ctx context.Context, tx *sql.Tx) error) (Event, error)
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

const eventColumns = `id, site, status, risk_level_code, artifact_count, finished_count, created_at, updated_at`

const artifactColumns = `idx, type, value, status, risk_level_code, risk_reason, connection, object_id, error, updated_at`

// eventKeys are the keys (see writeKeyed) of the transactions that write event id and
// its artifacts: the events and event_artifacts tables are written under them only.
func eventKeys(id string) []string { return []string{"event\x00" + id} }

// CreateEvent implements Events.
func (s *sqlStore) CreateEvent(ctx context.Context, ev Event, inTx func(context.Context, *sql.Tx) error) (Event, error) {
	if strings.TrimSpace(ev.ID) == "" {
		return Event{}, errors.New("event id is empty")
	}
	now := s.opts.now().UTC().Truncate(time.Microsecond)
	ev.Status, ev.ArtifactCount, ev.FinishedCount = EventPending, len(ev.Artifacts), 0
	if ev.RiskLevelCode == 0 {
		ev.RiskLevelCode = 4
	}
	ev.CreatedAt, ev.UpdatedAt = now, now
	err := s.writeKeyed(ctx, eventKeys(ev.ID), func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE id = ?`, ev.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("event %s: %w", ev.ID, ErrExists)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (`+eventColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.ID, ev.Site, ev.Status, ev.RiskLevelCode, ev.ArtifactCount, 0, micros(now), micros(now)); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO event_artifacts (event_id, `+artifactColumns+`) VALUES (?, ?, ?, ?, ?, ?, '', '', '', '', ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range ev.Artifacts {
			a := &ev.Artifacts[i]
			a.Index, a.Status, a.RiskLevelCode, a.UpdatedAt = i, ArtifactPending, 4, now
			a.RiskReason, a.Connection, a.ObjectID, a.Error = "", "", "", ""
			if _, err := stmt.ExecContext(ctx, ev.ID, i, string(a.Type), a.Value, a.Status, a.RiskLevelCode, micros(now)); err != nil {
				return err
			}
		}
		if inTx != nil {
			return inTx(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return Event{}, err
	}
	return ev, nil
}

func scanEvent(r rowScanner) (Event, error) {
	var (
		ev               Event
		created, updated int64
	)
	if err := r.Scan(&ev.ID, &ev.Site, &ev.Status, &ev.RiskLevelCode, &ev.ArtifactCount, &ev.FinishedCount,
		&created, &updated); err != nil {
		return Event{}, err
	}
	ev.CreatedAt, ev.UpdatedAt = fromMicros(created), fromMicros(updated)
	return ev, nil
}

func scanArtifact(r rowScanner) (Artifact, error) {
	var (
		a       Artifact
		kind    string
		updated int64
	)
	if err := r.Scan(&a.Index, &kind, &a.Value, &a.Status, &a.RiskLevelCode, &a.RiskReason, &a.Connection,
		&a.ObjectID, &a.Error, &updated); err != nil {
		return Artifact{}, err
	}
	a.Type, a.UpdatedAt = ioc.Kind(kind), fromMicros(updated)
	return a, nil
}

func getEvent(ctx context.Context, q queryer, id string) (Event, error) {
	ev, err := scanEvent(q.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, fmt.Errorf("event %s: %w", id, ErrNotFound)
	}
	return ev, err
}

// GetEvent implements Events.
func (s *sqlStore) GetEvent(ctx context.Context, id string) (Event, error) {
	// The event is read before its artifacts, so that an event read as done has every
	// artifact read final.
	ev, err := getEvent(ctx, s.db, id)
	if err != nil {
		return Event{}, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+artifactColumns+` FROM event_artifacts WHERE event_id = ? ORDER BY idx`, id)
	if err != nil {
		return Event{}, err
	}
	defer rows.Close()
	ev.Artifacts = make([]Artifact, 0, ev.ArtifactCount)
	for rows.Next() {
		a, err := scanArtifact(rows)
		if err != nil {
			return Event{}, err
		}
		ev.Artifacts = append(ev.Artifacts, a)
	}
	return ev, rows.Err()
}

// GetArtifact implements Events.
func (s *sqlStore) GetArtifact(ctx context.Context, eventID string, index int) (Event, Artifact, error) {
	ev, err := getEvent(ctx, s.db, eventID)
	if err != nil {
		return Event{}, Artifact{}, err
	}
	a, err := scanArtifact(s.queryRow(ctx, `SELECT `+artifactColumns+` FROM event_artifacts WHERE event_id = ? AND idx = ?`,
		eventID, index))
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, Artifact{}, fmt.Errorf("event %s artifact %d: %w", eventID, index, ErrNotFound)
	}
	return ev, a, err
}

// ListEvents implements Events.
func (s *sqlStore) ListEvents(ctx context.Context, sites []string, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ` + eventColumns + ` FROM events`
	var args []any
	if sites != nil {
		if len(sites) == 0 {
			return nil, nil
		}
		q += ` WHERE site IN (?` + strings.Repeat(`, ?`, len(sites)-1) + `)`
		for _, s := range sites {
			args = append(args, s)
		}
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, s.db, scanEvent, q, args...)
}

// StartEvent implements Events.
func (s *sqlStore) StartEvent(ctx context.Context, id string) error {
	return s.writeKeyed(ctx, eventKeys(id), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE events SET status = ?, updated_at = ? WHERE id = ? AND status = ?`,
			EventEnriching, micros(s.opts.now()), id, EventPending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			_, err := getEvent(ctx, tx, id)
			return err
		}
		return nil
	})
}

// FinishArtifact implements Events.
func (s *sqlStore) FinishArtifact(ctx context.Context, eventID string, a Artifact, risk func([]ArtifactState) int) (Event, bool, error) {
	if a.Status != ArtifactDone && a.Status != ArtifactError {
		return Event{}, false, fmt.Errorf("event %s artifact %d: status %q is not final", eventID, a.Index, a.Status)
	}
	var (
		ev      Event
		changed bool
	)
	err := s.writeKeyed(ctx, eventKeys(eventID), func(tx *sql.Tx) error {
		changed = false
		now := micros(s.opts.now())
		res, err := tx.ExecContext(ctx, `UPDATE event_artifacts SET status = ?, risk_level_code = ?, risk_reason = ?,
connection = ?, object_id = ?, error = ?, updated_at = ? WHERE event_id = ? AND idx = ? AND status NOT IN (?, ?)`,
			a.Status, a.RiskLevelCode, a.RiskReason, a.Connection, a.ObjectID, a.Error, now, eventID, a.Index,
			ArtifactDone, ArtifactError)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var err error
			if ev, err = getEvent(ctx, tx, eventID); err != nil {
				return err
			}
			var one int
			err = tx.QueryRowContext(ctx, `SELECT 1 FROM event_artifacts WHERE event_id = ? AND idx = ?`, eventID, a.Index).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("event %s artifact %d: %w", eventID, a.Index, ErrNotFound)
			}
			return err
		}
		changed = true
		rows, err := tx.QueryContext(ctx, `SELECT status, risk_level_code FROM event_artifacts WHERE event_id = ? AND status IN (?, ?)`,
			eventID, ArtifactDone, ArtifactError)
		if err != nil {
			return err
		}
		var states []ArtifactState
		for rows.Next() {
			var st ArtifactState
			if err := rows.Scan(&st.Status, &st.RiskLevelCode); err != nil {
				rows.Close()
				return err
			}
			states = append(states, st)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		code := 4
		if risk != nil {
			code = risk(states)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE events SET finished_count = ?, risk_level_code = ?,
status = CASE WHEN ? >= artifact_count THEN ? ELSE ? END, updated_at = ? WHERE id = ?`,
			len(states), code, len(states), EventDone, EventEnriching, now, eventID); err != nil {
			return err
		}
		ev, err = getEvent(ctx, tx, eventID)
		return err
	})
	if err != nil {
		return Event{}, false, err
	}
	return ev, changed, nil
}
