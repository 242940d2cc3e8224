package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/store"
)

// Enricher is the background service (an *enrich.Service) behind events, connection
// tests and health history.
type Enricher interface {
	SubmitEvent(ctx context.Context, ev enrich.NewEvent) (enrich.Event, error)
	GetEvent(ctx context.Context, id string) (enrich.Event, error)
	ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]enrich.Event, error)
	HealthHistory(ctx context.Context, conn string, limit int) ([]enrich.HealthCheck, error)
	CheckConnection(ctx context.Context, conn string) (enrich.HealthCheck, error)
}

// JobCounter is implemented by an Enricher that reports its queue: jobs by state
// ("available", "running", "retryable", "scheduled", "completed", ...).
type JobCounter interface {
	JobCounts(ctx context.Context) (map[string]int, error)
}

func (s *Server) enricher() (Enricher, error) {
	if s.cfg.Enrich == nil {
		return nil, unavailable("the background service is not running in this process")
	}
	return s.cfg.Enrich, nil
}

// limitParam reads ?limit= (default def, at most max).
func limitParam(r *http.Request, def, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, badRequest("limit must be a number from 1 to %d", max)
	}
	return n, nil
}

// eventBody is the body of POST /api/v1/events.
type eventBody struct {
	Site       string            `json:"site"`
	IncidentID string            `json:"incident_id"`
	Artifacts  []enrich.Artifact `json:"artifacts"`
}

func (s *Server) handleSubmitEvent(w http.ResponseWriter, r *http.Request, u *store.User) error {
	en, err := s.enricher()
	if err != nil {
		return err
	}
	var body eventBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	var site string
	if body.IncidentID != "" {
		// An event of an incident is of the incident's site.
		inc, err := s.incidentFor(r.Context(), u, body.IncidentID)
		if err != nil {
			return err
		}
		if body.Site != "" && body.Site != inc.Site {
			return badRequest("incident %s is of site %q, not %q: an event of it is of its site", inc.ID, inc.Site, body.Site)
		}
		site = inc.Site
	} else if site, err = siteFor(u, body.Site); err != nil {
		return err
	}
	ev, err := en.SubmitEvent(r.Context(), enrich.NewEvent{Site: site, IncidentID: body.IncidentID, Artifacts: body.Artifacts})
	if errors.Is(err, enrich.ErrInvalidEvent) {
		return badRequest("%v", err)
	}
	if err != nil {
		return internal(err)
	}
	w.Header().Set("Location", "/api/v1/events/"+url.PathEscape(ev.ID))
	writeJSON(w, http.StatusCreated, ev)
	return nil
}

// eventsOut is the answer of GET /api/v1/events.
type eventsOut struct {
	Events     []enrich.Event `json:"events"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// handleListEvents answers the events of the user's sites, newest first, in pages,
// those of an incident (?incident=, one the user sees) only when asked.
func (s *Server) handleListEvents(w http.ResponseWriter, r *http.Request, u *store.User) error {
	en, err := s.enricher()
	if err != nil {
		return err
	}
	page, err := pageParams(r)
	if err != nil {
		return err
	}
	f := store.EventFilter{Sites: userSites(u)}
	if id := r.URL.Query().Get("incident"); id != "" {
		if _, err := s.incidentFor(r.Context(), u, id); err != nil {
			return err
		}
		f.Incident = id
	}
	evs, err := en.ListEvents(r.Context(), f, page)
	if err != nil {
		return internal(err)
	}
	var out eventsOut
	out.Events, out.NextCursor = paged(page, evs, func(ev enrich.Event) enrich.Event { return ev },
		func(ev enrich.Event) store.Cursor { return store.Cursor{CreatedAt: ev.CreatedAt, ID: ev.ID} })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleGetEvent answers an event of the user's sites; another site's event is 404,
// like a missing one, so that ids reveal nothing of other sites.
func (s *Server) handleGetEvent(w http.ResponseWriter, r *http.Request, u *store.User) error {
	en, err := s.enricher()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	ev, err := en.GetEvent(r.Context(), id)
	if err == nil && !seesSite(u, ev.Site) {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no event %q", id)
	}
	if err != nil {
		return internal(err)
	}
	writeJSON(w, http.StatusOK, ev)
	return nil
}

func (s *Server) handleTestConnection(w http.ResponseWriter, r *http.Request, u *store.User) error {
	en, err := s.enricher()
	if err != nil {
		return err
	}
	c, err := s.connectionFor(r, u, r.PathValue("name"))
	if err != nil {
		return err
	}
	h, err := en.CheckConnection(quota.WithRequester(r.Context(), quota.UserRequester(u.Name)), c.Name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no connection %q", c.Name)
	}
	if err != nil {
		return internal(err)
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) handleConnectionHealth(w http.ResponseWriter, r *http.Request, u *store.User) error {
	en, err := s.enricher()
	if err != nil {
		return err
	}
	c, err := s.connectionFor(r, u, r.PathValue("name"))
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return err
	}
	hs, err := en.HealthHistory(r.Context(), c.Name, limit)
	if err != nil {
		return internal(err)
	}
	if hs == nil {
		hs = []enrich.HealthCheck{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"connection": c.Name, "checks": hs})
	return nil
}

// jobsOut is the answer of GET /api/v1/jobs.
type jobsOut struct {
	// Counts are the background jobs by state; absent when the service does not
	// report them.
	Counts map[string]int `json:"counts,omitzero"`
	// Detail says why Counts is absent.
	Detail string `json:"detail,omitempty"`
}

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request, _ *store.User) error {
	if _, err := s.enricher(); err != nil {
		return err
	}
	counts, err := s.jobCounts(r.Context())
	if errors.Is(err, errNoJobCounts) {
		writeJSON(w, http.StatusOK, jobsOut{Detail: "the background service does not report its queue"})
		return nil
	}
	if err != nil {
		return internal(err)
	}
	writeJSON(w, http.StatusOK, jobsOut{Counts: counts})
	return nil
}

var errNoJobCounts = errors.New("no job counts")

// jobCounts returns the background jobs by state: from the service when it reports
// them, else from the queue's table (River's river_job) in the store's database.
func (s *Server) jobCounts(ctx context.Context) (map[string]int, error) {
	if jc, ok := s.cfg.Enrich.(JobCounter); ok {
		return jc.JobCounts(ctx)
	}
	db, ok := s.cfg.Store.(store.SQLDB)
	if !ok || s.cfg.Enrich == nil {
		return nil, errNoJobCounts
	}
	rows, err := db.DB().QueryContext(ctx, `SELECT state, COUNT(*) FROM river_job GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("counting jobs: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("counting jobs: %w", err)
		}
		counts[state] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting jobs: %w", err)
	}
	return counts, nil
}
