package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/risk"
)

// Incident is a case of a site: the events posted to it and the files attached to
// it, with the highest risk of its events.
type Incident struct {
	// ID identifies the incident (chosen by the caller of CreateIncident).
	ID string
	// Site is the site (tenant) the incident belongs to; its events and attachments
	// are of the same site.
	Site string
	// Title and Description are what its creator wrote (CheckIncident).
	Title, Description string
	// Creator is the name of the user who created it.
	Creator string
	// RiskLevelCode is the highest risk (1 High ... 5 ZeroRisk) of its events that
	// have a finished artifact; 4 (N/A) until one has.
	RiskLevelCode int
	// EventCount and AttachmentCount count its events and attached files (set by
	// reads).
	EventCount, AttachmentCount int
	// CreatedAt and UpdatedAt are set by the store; UpdatedAt moves when its risk is
	// recomputed.
	CreatedAt, UpdatedAt time.Time
}

// IncidentView is an incident as the REST API and the console show it.
type IncidentView struct {
	ID          string `json:"id"`
	Site        string `json:"site"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Creator     string `json:"creator"`
	// RiskLevel is the highest risk of its events so far.
	RiskLevel        string    `json:"risk_level"`
	RiskLevelCode    int       `json:"risk_level_code"`
	EventsTotal      int       `json:"events_total"`
	AttachmentsTotal int       `json:"attachments_total"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// View returns the incident as it is shown.
func (i Incident) View() IncidentView {
	level := risk.Level(i.RiskLevelCode)
	if !level.Valid() {
		level = risk.NA
	}
	return IncidentView{ID: i.ID, Site: i.Site, Title: i.Title, Description: i.Description, Creator: i.Creator,
		RiskLevel: level.String(), RiskLevelCode: level.Code(), EventsTotal: i.EventCount, AttachmentsTotal: i.AttachmentCount,
		CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
}

// Cursor is the incident's position in a list (Page.After).
func (i Incident) Cursor() Cursor { return Cursor{CreatedAt: i.CreatedAt, ID: i.ID} }

// Incidents stores incidents.
type Incidents interface {
	// CreateIncident stores inc (its Title and Description as CheckIncident allows)
	// and returns it as stored; ErrExists if the id is taken.
	CreateIncident(ctx context.Context, inc Incident) (Incident, error)
	// GetIncident returns an incident with its counts; ErrNotFound if there is none.
	GetIncident(ctx context.Context, id string) (Incident, error)
	// ListIncidents returns a page of the incidents of the given sites (nil: every
	// site), newest first, with their counts.
	ListIncidents(ctx context.Context, sites []string, p Page) ([]Incident, error)
}

// Bounds of an incident's texts.
const (
	// MaxIncidentTitle bounds an incident's title, in characters.
	MaxIncidentTitle = 200
	// MaxIncidentDescription bounds an incident's description, in bytes.
	MaxIncidentDescription = 64 << 10
)

// CheckIncident refuses an incident's title that is empty (or only spaces), longer
// than MaxIncidentTitle characters or holds a control character, and a description
// longer than MaxIncidentDescription bytes or holding a control character other than
// a line break or a tab.
func CheckIncident(title, description string) error {
	if err := CheckText("incident title", title); err != nil {
		return err
	}
	if strings.TrimSpace(title) == "" || len([]rune(title)) > MaxIncidentTitle {
		return fmt.Errorf("incident title %q must be 1 to %d characters", title, MaxIncidentTitle)
	}
	if len(description) > MaxIncidentDescription {
		return fmt.Errorf("incident description is longer than %d bytes", MaxIncidentDescription)
	}
	for _, line := range strings.Split(strings.ReplaceAll(description, "\r\n", "\n"), "\n") {
		if err := CheckText("incident description", strings.ReplaceAll(line, "\t", " ")); err != nil {
			return err
		}
	}
	return nil
}

const incidentColumns = `id, site, title, description, creator, risk_level_code, created_at, updated_at`

// incidentCounts are the columns of an incident's counts, after incidentColumns.
const incidentCounts = `(SELECT COUNT(*) FROM events e WHERE e.incident_id = incidents.id),
(SELECT COUNT(*) FROM files f WHERE f.incident_id = incidents.id)`

// incidentKeys are the keys (see writeKeyed) of the transactions that write incident
// id: the incidents table is written under them only.
func incidentKeys(id string) []string { return []string{"incident\x00" + id} }

// CreateIncident implements Incidents.
func (s *sqlStore) CreateIncident(ctx context.Context, inc Incident) (Incident, error) {
	if strings.TrimSpace(inc.ID) == "" {
		return Incident{}, errors.New("incident id is empty")
	}
	if err := CheckIncident(inc.Title, inc.Description); err != nil {
		return Incident{}, err
	}
	now := s.opts.now().UTC().Truncate(time.Microsecond)
	inc.RiskLevelCode, inc.EventCount, inc.AttachmentCount = 4, 0, 0
	inc.CreatedAt, inc.UpdatedAt = now, now
	err := s.writeKeyed(ctx, incidentKeys(inc.ID), func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents WHERE id = ?`, inc.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("incident %s: %w", inc.ID, ErrExists)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO incidents (`+incidentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			inc.ID, inc.Site, inc.Title, inc.Description, inc.Creator, inc.RiskLevelCode, micros(now), micros(now))
		return err
	})
	if err != nil {
		return Incident{}, err
	}
	return inc, nil
}

func scanIncident(r rowScanner) (Incident, error) {
	var (
		inc              Incident
		created, updated int64
	)
	if err := r.Scan(&inc.ID, &inc.Site, &inc.Title, &inc.Description, &inc.Creator, &inc.RiskLevelCode,
		&created, &updated, &inc.EventCount, &inc.AttachmentCount); err != nil {
		return Incident{}, err
	}
	inc.CreatedAt, inc.UpdatedAt = fromMicros(created), fromMicros(updated)
	return inc, nil
}

// GetIncident implements Incidents.
func (s *sqlStore) GetIncident(ctx context.Context, id string) (Incident, error) {
	inc, err := scanIncident(s.queryRow(ctx, `SELECT `+incidentColumns+`, `+incidentCounts+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Incident{}, fmt.Errorf("incident %s: %w", id, ErrNotFound)
	}
	return inc, err
}

// ListIncidents implements Incidents.
func (s *sqlStore) ListIncidents(ctx context.Context, sites []string, p Page) ([]Incident, error) {
	where, args, ok := sitesIn(sites, nil, nil)
	if !ok {
		return nil, nil
	}
	q, args := pageQuery(p, where, args)
	return queryAll(ctx, s.db, scanIncident, `SELECT `+incidentColumns+`, `+incidentCounts+` FROM incidents`+q, args...)
}

// incidentSite returns the site of incident id, read in tx; ErrNotFound if there is
// none.
func incidentSite(ctx context.Context, tx *sql.Tx, id string) (string, error) {
	var site string
	err := tx.QueryRowContext(ctx, `SELECT site FROM incidents WHERE id = ?`, id).Scan(&site)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("incident %s: %w", id, ErrNotFound)
	}
	return site, err
}

// checkIncidentSite checks, in tx, that incident id exists and is of site: what an
// event or an attachment of it must be.
func checkIncidentSite(ctx context.Context, tx *sql.Tx, id, site, what string) error {
	got, err := incidentSite(ctx, tx, id)
	if err != nil {
		return err
	}
	if got != site {
		return fmt.Errorf("%s of site %q: incident %s is of site %q", what, site, id, got)
	}
	return nil
}
