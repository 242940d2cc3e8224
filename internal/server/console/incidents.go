package console

// The incident pages: list and create incidents, one incident with its events (and a
// form to post one to it), its attachments (with an upload) and its risk.

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/store"
)

// siteChoice is what a form offers to choose a site: a typed one for a user of every
// site, a list for a user of several, nothing for a user of one.
type siteChoice struct {
	Sites   []string
	AnySite bool
	Site    string
}

func siteChoiceOf(s *session) siteChoice {
	if slices.Contains(s.user.Sites, store.AllSites) {
		return siteChoice{AnySite: true}
	}
	return siteChoice{Sites: s.user.Sites}
}

type incidentsData struct {
	Incidents []store.IncidentView
	siteChoice
	Title, Description string
}

func (c *Console) incidentsData(r *http.Request, s *session) (*incidentsData, error) {
	var list struct {
		Incidents []store.IncidentView `json:"incidents"`
	}
	if err := c.call(r, s, "GET", "/api/v1/incidents?limit=100", nil, &list); err != nil {
		return nil, err
	}
	return &incidentsData{Incidents: list.Incidents, siteChoice: siteChoiceOf(s)}, nil
}

func (c *Console) incidents(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.incidentsData(r, s)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "incidents", &view{Title: "Incidents", Session: s, Data: d})
	return nil
}

func (c *Console) createIncident(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.incidentsData(r, s)
	if err != nil {
		return err
	}
	pf := r.PostForm
	d.Title, d.Description, d.Site = pf.Get("title"), pf.Get("description"), strings.TrimSpace(pf.Get("site"))
	var inc store.IncidentView
	err = c.call(r, s, "POST", "/api/v1/incidents", map[string]any{"title": d.Title, "description": d.Description, "site": d.Site}, &inc)
	if ae := (*apiError)(nil); errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusForbidden) {
		c.render(w, r, http.StatusBadRequest, "incidents", &view{Title: "Incidents", Session: s, Data: d,
			Error: "The incident was not created: " + ae.Detail})
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/incidents/"+url.PathEscape(inc.ID)+"?created", http.StatusSeeOther)
	return nil
}

type incidentData struct {
	Incident    store.IncidentView
	Events      []enrich.Event
	Attachments []store.FileView
	Artifacts   string
}

func (c *Console) incidentData(r *http.Request, s *session, id string) (*incidentData, error) {
	d := &incidentData{}
	esc := url.PathEscape(id)
	if err := c.call(r, s, "GET", "/api/v1/incidents/"+esc, nil, &d.Incident); err != nil {
		return nil, err
	}
	var evs struct {
		Events []enrich.Event `json:"events"`
	}
	if err := c.call(r, s, "GET", "/api/v1/events?limit=100&incident="+url.QueryEscape(id), nil, &evs); err != nil {
		return nil, err
	}
	var files struct {
		Files []store.FileView `json:"files"`
	}
	if err := c.call(r, s, "GET", "/api/v1/files?limit=100&incident="+url.QueryEscape(id), nil, &files); err != nil {
		return nil, err
	}
	d.Events, d.Attachments = evs.Events, files.Files
	return d, nil
}

func (c *Console) incident(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.incidentData(r, s, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := &view{Title: d.Incident.Title, Nav: "incidents", Session: s, Data: d}
	q := r.URL.Query()
	switch {
	case q.Has("created"):
		v.Notice = "Incident created. Attach its files and post its events: its risk is the highest of its events'."
	case q.Has("attached"):
		v.Notice = "File attached: detonate it from the list below."
	}
	c.render(w, r, http.StatusOK, "incident", v)
	return nil
}

// submitIncidentEvent posts an event of artifacts to the incident, as the events page
// posts one.
func (c *Console) submitIncidentEvent(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	d, err := c.incidentData(r, s, id)
	if err != nil {
		return err
	}
	d.Artifacts = r.PostForm.Get("artifacts")
	v := &view{Title: d.Incident.Title, Nav: "incidents", Session: s, Data: d}
	arts, unknown := parseArtifacts(d.Artifacts)
	if msg := artifactsProblem(arts, unknown); msg != "" {
		v.Error = msg
		c.render(w, r, http.StatusBadRequest, "incident", v)
		return nil
	}
	var ev enrich.Event
	err = c.call(r, s, "POST", "/api/v1/events", map[string]any{"incident_id": id, "artifacts": arts}, &ev)
	if ae := (*apiError)(nil); errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		v.Error = "The event was not posted: " + ae.Detail
		c.render(w, r, http.StatusBadRequest, "incident", v)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/events/"+url.PathEscape(ev.ID), http.StatusSeeOther)
	return nil
}

// attach streams the file of the form to the incident's attachments.
func (c *Console) attach(w http.ResponseWriter, r *http.Request, s *session, mr *multipart.Reader) error {
	id := r.PathValue("id")
	_, file, err := formValues(mr, "file")
	if err == nil && file == nil {
		err = errors.New("choose a file to attach")
	}
	if err == nil {
		err = c.sendFile(r, s, "/api/v1/incidents/"+url.PathEscape(id)+"/attachments", nil, file.FileName(), file, nil)
	}
	if ae := (*apiError)(nil); err != nil && (!errors.As(err, &ae) || ae.Status == http.StatusBadRequest || ae.Status == http.StatusRequestEntityTooLarge) {
		d, derr := c.incidentData(r, s, id)
		if derr != nil {
			return derr
		}
		c.render(w, r, http.StatusBadRequest, "incident", &view{Title: d.Incident.Title, Nav: "incidents", Session: s, Data: d,
			Error: "The file was not attached: " + err.Error()})
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/incidents/"+url.PathEscape(id)+"?attached", http.StatusSeeOther)
	return nil
}

// sendFile posts a multipart form of fields and a "file" part named name, whose
// content is read from content as the API reads the request: nothing is held whole.
// It decodes a 2xx answer's JSON into out (when not nil).
func (c *Console) sendFile(r *http.Request, s *session, path string, fields [][2]string, name string, content io.Reader, out any) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := func() error {
			for _, f := range fields {
				if err := mw.WriteField(f[0], f[1]); err != nil {
					return err
				}
			}
			fw, err := mw.CreateFormFile("file", name)
			if err != nil {
				return err
			}
			if _, err := io.Copy(fw, content); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	err := c.send(r, s, "POST", path, mw.FormDataContentType(), pr, out)
	// The API may stop reading early (a file too large): the copy ends too.
	pr.CloseWithError(errors.New("the API read what it takes"))
	<-done
	return err
}
