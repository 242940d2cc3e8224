package console

// The event pages: post an event of artifacts, list events, follow one's enrichment.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
)

type eventsData struct {
	Events []enrich.Event
	// Sites are the sites the user may post to; AnySite when they belong to every
	// site (then a site is typed).
	Sites     []string
	AnySite   bool
	Artifacts string
	Site      string
}

func (c *Console) eventsData(r *http.Request, s *session) (*eventsData, error) {
	var evs struct {
		Events []enrich.Event `json:"events"`
	}
	if err := c.call(r, s, "GET", "/api/v1/events?limit=100", nil, &evs); err != nil {
		return nil, err
	}
	d := &eventsData{Events: evs.Events}
	if slices.Contains(s.user.Sites, store.AllSites) {
		d.AnySite = true
	} else {
		d.Sites = s.user.Sites
	}
	return d, nil
}

func (c *Console) events(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.eventsData(r, s)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "events", &view{Title: "Events", Session: s, Data: d})
	return nil
}

// parseArtifacts reads one artifact per line, its type recognised ("ip: 1.2.3.4" names
// it).
func parseArtifacts(text string) ([]enrich.Artifact, []string) {
	var arts []enrich.Artifact
	var bad []string
	for _, l := range splitInputs(text) {
		o, err := parseArtifact(l)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q: %v", l, err))
			continue
		}
		arts = append(arts, enrich.Artifact{Type: o.Kind, Value: o.Input})
	}
	return arts, bad
}

// parseArtifact reads one artifact: "kind: value" ("ip: 1.2.3.4"), else a value whose
// kind is recognised.
func parseArtifact(l string) (ioc.Observable, error) {
	if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(v, "//") {
		if kind, err := ioc.ParseKind(k); err == nil {
			return ioc.ParseAs(kind, strings.TrimSpace(v))
		}
	}
	return ioc.Parse(l)
}

func (c *Console) submitEvent(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.eventsData(r, s)
	if err != nil {
		return err
	}
	d.Artifacts, d.Site = r.PostForm.Get("artifacts"), strings.TrimSpace(r.PostForm.Get("site"))
	v := &view{Title: "Events", Session: s, Data: d}
	arts, bad := parseArtifacts(d.Artifacts)
	switch {
	case len(bad) > 0:
		v.Error = "Some lines are not a file hash, IP address, URL or domain: " + strings.Join(bad, "; ")
	case len(arts) == 0:
		v.Error = "Give at least one artifact, one per line."
	}
	if v.Error != "" {
		c.render(w, r, http.StatusBadRequest, "events", v)
		return nil
	}
	var ev enrich.Event
	if err := c.call(r, s, "POST", "/api/v1/events", map[string]any{"site": d.Site, "artifacts": arts}, &ev); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
			v.Error = "The event was not posted: " + ae.Detail
			c.render(w, r, http.StatusBadRequest, "events", v)
			return nil
		}
		return err
	}
	http.Redirect(w, r, "/events/"+url.PathEscape(ev.ID), http.StatusSeeOther)
	return nil
}

func (c *Console) event(w http.ResponseWriter, r *http.Request, s *session) error {
	var ev enrich.Event
	if err := c.call(r, s, "GET", "/api/v1/events/"+url.PathEscape(r.PathValue("id")), nil, &ev); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "event", &view{Title: "Event " + ev.ID, Nav: "events", Session: s, Data: ev})
	return nil
}
