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
	// IncidentID is the incident the event belongs to, of the same site ("": none).
	IncidentID string
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
	// FileID is the uploaded file a file artifact was posted as ("": it was posted as
	// a hash): a file of the event's site, whose sha256 CreateEvent makes the Value.
	FileID string
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

// Cursor is the event's position in a list (Page.After).
func (ev Event) Cursor() Cursor { return Cursor{CreatedAt: ev.CreatedAt, ID: ev.ID} }

// EventFilter selects the events of a list.
type EventFilter struct {
	// Sites are the sites whose events are listed (nil: every site; empty: none).
	Sites []string
	// Incident, when set, lists only the events of that incident.
	Incident string
}

// ArtifactFileError is CreateEvent's error for a file artifact whose FileID names no
// file of the event's site.
type ArtifactFileError struct {
	// Index is the artifact's position; FileID the id it gave.
	Index  int
	FileID string
}

func (e *ArtifactFileError) Error() string {
	return fmt.Sprintf("artifact %d: no file %q in the event's site", e.Index, e.FileID)
}

// Unwrap makes the error an ErrNotFound.
func (e *ArtifactFileError) Unwrap() error { return ErrNotFound }

// Events stores events and their artifacts.
type Events interface {
	// CreateEvent stores ev with its artifacts, all pending, and calls inTx (when not
	// nil) within the same transaction, so that work queued in tx (jobs of a queue in
	// the same database, see SQLDB) is committed or rolled back together with the
	// event. ErrExists if the id is taken. An event of an incident must be of the
	// incident's site (an error wrapping ErrNotFound if there is no such incident);
	// an artifact with a FileID becomes a file artifact whose value is the file's
	// sha256, the file being of the event's site (else an *ArtifactFileError).
	CreateEvent(ctx context.Context, ev Event, inTx func(ctx context.Context, tx *sql.Tx) error) (Event, error)
	// GetEvent returns an event with its artifacts; ErrNotFound if there is none.
	GetEvent(ctx context.Context, id string) (Event, error)
	// GetArtifact returns an event (without its artifacts) and one of its artifacts;
	// ErrNotFound if either does not exist.
	GetArtifact(ctx context.Context, eventID string, index int) (Event, Artifact, error)
	// ListEvents returns a page of the events (without artifacts) that f selects,
	// newest first.
	ListEvents(ctx context.Context, f EventFilter, p Page) ([]Event, error)
	// StartEvent moves a pending event to EventEnriching (no change otherwise).
	StartEvent(ctx context.Context, id string) error
	// FinishArtifact records the final result of artifact a.Index of event eventID,
	// unless it is already final (then it returns the event unchanged and false). In
	// the same transaction it recomputes the event: its risk is risk(states of its
	// final artifacts) and its status EventDone once every artifact is final; and the
	// event's incident, if it has one: its risk is risk(the states of its events that
	// have a final artifact, each done with the event's risk).
	FinishArtifact(ctx context.Context, eventID string, a Artifact, risk func([]ArtifactState) int) (Event, bool, error)
}

const eventColumns = `id, site, incident_id, status, risk_level_code, artifact_count, finished_count, created_at, updated_at`

const artifactColumns = `idx, type, value, file_id, status, risk_level_code, risk_reason, connection, object_id, error, updated_at`

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
		if ev.IncidentID != "" {
			if err := checkIncidentSite(ctx, tx, ev.IncidentID, ev.Site, "event "+ev.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (`+eventColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.ID, ev.Site, ev.IncidentID, ev.Status, ev.RiskLevelCode, ev.ArtifactCount, 0, micros(now), micros(now)); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO event_artifacts (event_id, `+artifactColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, '', '', '', '', ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range ev.Artifacts {
			a := &ev.Artifacts[i]
			a.Index, a.Status, a.RiskLevelCode, a.UpdatedAt = i, ArtifactPending, 4, now
			a.RiskReason, a.Connection, a.ObjectID, a.Error = "", "", "", ""
			if a.FileID != "" {
				var site string
				err := tx.QueryRowContext(ctx, `SELECT sha256, site FROM files WHERE id = ?`, a.FileID).Scan(&a.Value, &site)
				if errors.Is(err, sql.ErrNoRows) || (err == nil && site != ev.Site) {
					return &ArtifactFileError{Index: i, FileID: a.FileID}
				}
				if err != nil {
					return err
				}
				a.Type = ioc.KindFile
			}
			if _, err := stmt.ExecContext(ctx, ev.ID, i, string(a.Type), a.Value, a.FileID, a.Status, a.RiskLevelCode, micros(now)); err != nil {
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
	if err := r.Scan(&ev.ID, &ev.Site, &ev.IncidentID, &ev.Status, &ev.RiskLevelCode, &ev.ArtifactCount, &ev.FinishedCount,
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
	if err := r.Scan(&a.Index, &kind, &a.Value, &a.FileID, &a.Status, &a.RiskLevelCode, &a.RiskReason, &a.Connection,
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
func (s *sqlStore) ListEvents(ctx context.Context, f EventFilter, p Page) ([]Event, error) {
	where, args, ok := sitesIn(f.Sites, nil, nil)
	if !ok {
		return nil, nil
	}
	if f.Incident != "" {
		where, args = append(where, `incident_id = ?`), append(args, f.Incident)
	}
	q, args := pageQuery(p, where, args)
	return queryAll(ctx, s.db, scanEvent, `SELECT `+eventColumns+` FROM events`+q, args...)
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
	if risk == nil {
		risk = func([]ArtifactState) int { return 4 }
	}
	// An event's incident never changes: read before the transaction, it names the
	// incident's key, under which the incident's risk is recomputed.
	keys := eventKeys(eventID)
	var incident string
	err := s.queryRow(ctx, `SELECT incident_id FROM events WHERE id = ?`, eventID).Scan(&incident)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Event{}, false, err
	}
	if incident != "" {
		keys = append(keys, incidentKeys(incident)...)
	}
	var (
		ev      Event
		changed bool
	)
	err = s.writeKeyed(ctx, keys, func(tx *sql.Tx) error {
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
		states, err := riskStates(ctx, tx, `SELECT status, risk_level_code FROM event_artifacts WHERE event_id = ? AND status IN (?, ?)`,
			eventID, ArtifactDone, ArtifactError)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE events SET finished_count = ?, risk_level_code = ?,
status = CASE WHEN ? >= artifact_count THEN ? ELSE ? END, updated_at = ? WHERE id = ?`,
			len(states), risk(states), len(states), EventDone, EventEnriching, now, eventID); err != nil {
			return err
		}
		if ev, err = getEvent(ctx, tx, eventID); err != nil {
			return err
		}
		if ev.IncidentID == "" {
			return nil
		}
		events, err := riskStates(ctx, tx, `SELECT '`+ArtifactDone+`', risk_level_code FROM events
WHERE incident_id = ? AND finished_count > 0`, ev.IncidentID)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE incidents SET risk_level_code = ?, updated_at = ? WHERE id = ?`,
			risk(events), now, ev.IncidentID)
		return err
	})
	if err != nil {
		return Event{}, false, err
	}
	return ev, changed, nil
}

// riskStates reads the states (status, risk code) a query selects.
func riskStates(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]ArtifactState, error) {
	return queryAll(ctx, tx, func(r rowScanner) (ArtifactState, error) {
		var st ArtifactState
		err := r.Scan(&st.Status, &st.RiskLevelCode)
		return st, err
	}, query, args...)
}
