package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/vtsoar/vtsoar/internal/store"
)

// incidentIn is the body of POST /api/v1/incidents.
type incidentIn struct {
	Site        string `json:"site"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

func (s *Server) handleCreateIncident(w http.ResponseWriter, r *http.Request, u *store.User) error {
	var in incidentIn
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := store.CheckIncident(in.Title, in.Description); err != nil {
		return badRequest("%v", err)
	}
	site, err := siteFor(u, in.Site)
	if err != nil {
		return err
	}
	inc, err := s.cfg.Store.CreateIncident(r.Context(), store.Incident{ID: newID("inc_"), Site: site, Title: in.Title,
		Description: in.Description, Creator: u.Name})
	if err != nil {
		return internal(err)
	}
	s.log.InfoContext(r.Context(), "incident created", "id", inc.ID, "site", inc.Site)
	w.Header().Set("Location", "/api/v1/incidents/"+url.PathEscape(inc.ID))
	writeJSON(w, http.StatusCreated, inc.View())
	return nil
}

// incidentFor returns incident id when u sees it; another site's incident is 404, like
// a missing one, so that ids reveal nothing of other sites.
func (s *Server) incidentFor(ctx context.Context, u *store.User, id string) (store.Incident, error) {
	inc, err := s.cfg.Store.GetIncident(ctx, id)
	if err == nil && !seesSite(u, inc.Site) {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return inc, notFound("no incident %q", id)
	}
	if err != nil {
		return inc, internal(err)
	}
	return inc, nil
}

func (s *Server) handleGetIncident(w http.ResponseWriter, r *http.Request, u *store.User) error {
	inc, err := s.incidentFor(r.Context(), u, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, inc.View())
	return nil
}

// incidentsOut is the answer of GET /api/v1/incidents.
type incidentsOut struct {
	Incidents  []store.IncidentView `json:"incidents"`
	NextCursor string               `json:"next_cursor,omitempty"`
}

func (s *Server) handleListIncidents(w http.ResponseWriter, r *http.Request, u *store.User) error {
	page, err := pageParams(r)
	if err != nil {
		return err
	}
	list, err := s.cfg.Store.ListIncidents(r.Context(), userSites(u), page)
	if err != nil {
		return internal(err)
	}
	var out incidentsOut
	out.Incidents, out.NextCursor = paged(page, list, store.Incident.View, store.Incident.Cursor)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleAttach stores a file attached to an incident: an incident attachment file of
// the incident's site, streamed to the file store.
func (s *Server) handleAttach(w http.ResponseWriter, r *http.Request, u *store.User) error {
	inc, err := s.incidentFor(r.Context(), u, r.PathValue("id"))
	if err != nil {
		return err
	}
	up, err := s.readUpload(w, r, nil, `with a "file" part`)
	if err != nil {
		return err
	}
	return s.keepUpload(w, r, up, store.StoredFile{Source: store.FileSourceIncident, Site: inc.Site, IncidentID: inc.ID,
		Uploader: u.Name})
}
