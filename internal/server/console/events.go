package console

// The event pages: post an event of artifacts, list events, follow one's enrichment.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/ioc"
)

type eventsData struct {
	Events []enrich.Event
	// The site the event is posted to, as the user may choose it.
	siteChoice
	Artifacts string
}

func (c *Console) eventsData(r *http.Request, s *session) (*eventsData, error) {
	var evs struct {
		Events []enrich.Event `json:"events"`
	}
	if err := c.call(r, s, "GET", "/api/v1/events?limit=100", nil, &evs); err != nil {
		return nil, err
	}
	return &eventsData{Events: evs.Events, siteChoice: siteChoiceOf(s)}, nil
}

func (c *Console) events(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.eventsData(r, s)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "events", &view{Title: "Events", Session: s, Data: d})
	return nil
}

// parseArtifacts reads one artifact per line, its type recognised ("ip: 1.2.3.4"
// names it). As over REST, a value that is not a valid observable of its type is
// posted and ends as an artifact in error; a line whose type cannot be told is
// returned in unknown, with why.
func parseArtifacts(text string) (arts []enrich.Artifact, unknown []string) {
	for _, l := range splitInputs(text) {
		kind, value, err := parseArtifact(l)
		if err != nil {
			unknown = append(unknown, fmt.Sprintf("%q: %v", l, err))
			continue
		}
		arts = append(arts, enrich.Artifact{Type: kind, Value: value})
	}
	return arts, unknown
}

// parseArtifact reads one artifact's type and value: "kind: value" ("ip: 1.2.3.4"),
// else a value whose kind is recognised, valid or not ("1.2.3" is an IP address
// that is not valid). It fails only when the type cannot be told.
func parseArtifact(l string) (ioc.Kind, string, error) {
	if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(v, "//") {
		if kind, err := ioc.ParseKind(k); err == nil {
			if v = strings.TrimSpace(v); v == "" {
				return "", "", fmt.Errorf("no %s after %q", kind.Noun(), k+":")
			}
			return kind, v, nil
		}
	}
	o, err := ioc.Parse(l)
	if ie := (*ioc.Error)(nil); errors.As(err, &ie) && ie.Kind != "" {
		return ie.Kind, l, nil
	}
	if err != nil {
		return "", "", err
	}
	return o.Kind, o.Input, nil
}

// artifactsProblem says why artifacts read by parseArtifacts are not posted, or "".
func artifactsProblem(arts []enrich.Artifact, unknown []string) string {
	switch {
	case len(unknown) > 0:
		return "Nothing was posted: some lines are not a file hash, IP address, URL or domain (prefix a line with " +
			"file:, ip:, url: or domain: to say which): " + strings.Join(unknown, "; ")
	case len(arts) == 0:
		return "Give at least one artifact, one per line."
	}
	return ""
}

func (c *Console) submitEvent(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.eventsData(r, s)
	if err != nil {
		return err
	}
	d.Artifacts, d.Site = r.PostForm.Get("artifacts"), strings.TrimSpace(r.PostForm.Get("site"))
	v := &view{Title: "Events", Session: s, Data: d}
	arts, unknown := parseArtifacts(d.Artifacts)
	if msg := artifactsProblem(arts, unknown); msg != "" {
		v.Error = msg
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
