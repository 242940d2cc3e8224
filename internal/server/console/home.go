package console

// The home page: the user's connections and their health at a glance.

import (
	"net/http"

	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/store"
)

type homeData struct {
	Connections []store.ConnectionView
	Events      []enrich.Event
	EventsError string
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, s *session) error {
	var d homeData
	var list struct {
		Connections []store.ConnectionView `json:"connections"`
	}
	if err := c.call(r, s, "GET", "/api/v1/connections", nil, &list); err != nil {
		return err
	}
	d.Connections = list.Connections
	var evs struct {
		Events []enrich.Event `json:"events"`
	}
	if err := c.call(r, s, "GET", "/api/v1/events?limit=5", nil, &evs); err != nil {
		d.EventsError = err.Error()
	}
	d.Events = evs.Events
	c.render(w, r, http.StatusOK, "home", &view{Title: "Overview", Session: s, Data: d})
	return nil
}
