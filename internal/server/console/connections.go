package console

// The connection pages: list, detail, Test Connection, add, edit and delete, each
// through the REST API's /api/v1/connections.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
)

// allChecks are the reputation checks a connection may have switched on: one per
// observable kind.
func allChecks() []string {
	var out []string
	for _, k := range ioc.Kinds() {
		out = append(out, string(k))
	}
	return out
}

type connRow struct {
	store.ConnectionView
	Health *enrich.HealthCheck
}

func (c *Console) lastHealth(r *http.Request, s *session, name string, limit int) ([]enrich.HealthCheck, error) {
	var h struct {
		Checks []enrich.HealthCheck `json:"checks"`
	}
	err := c.call(r, s, "GET", "/api/v1/connections/"+url.PathEscape(name)+"/health?limit="+strconv.Itoa(limit), nil, &h)
	return h.Checks, err
}

func (c *Console) connections(w http.ResponseWriter, r *http.Request, s *session) error {
	var list struct {
		Connections []store.ConnectionView `json:"connections"`
	}
	if err := c.call(r, s, "GET", "/api/v1/connections", nil, &list); err != nil {
		return err
	}
	v := &view{Title: "Connections", Session: s}
	rows := []connRow{}
	for _, cn := range list.Connections {
		row := connRow{ConnectionView: cn}
		hs, err := c.lastHealth(r, s, cn.Name, 1)
		if err != nil {
			v.Error = "Health history is unavailable: " + err.Error()
		} else if len(hs) > 0 {
			row.Health = &hs[0]
		}
		rows = append(rows, row)
	}
	v.Data = rows
	c.render(w, r, http.StatusOK, "connections", v)
	return nil
}

type connDetail struct {
	Conn    store.ConnectionView
	History []enrich.HealthCheck
	Test    *enrich.HealthCheck
}

func (c *Console) showConnection(w http.ResponseWriter, r *http.Request, s *session, v *view, test *enrich.HealthCheck) error {
	name := r.PathValue("name")
	var d connDetail
	if err := c.call(r, s, "GET", "/api/v1/connections/"+url.PathEscape(name), nil, &d.Conn); err != nil {
		return err
	}
	hs, err := c.lastHealth(r, s, name, 10)
	if err != nil && v.Error == "" {
		v.Error = "Health history is unavailable: " + err.Error()
	}
	d.History, d.Test = hs, test
	v.Title, v.Session, v.Nav, v.Data = "Connection "+name, s, "connections", d
	c.render(w, r, http.StatusOK, "connection", v)
	return nil
}

func (c *Console) connection(w http.ResponseWriter, r *http.Request, s *session) error {
	v := &view{}
	switch {
	case r.URL.Query().Has("created"):
		v.Notice = "Connection created. Test it to check the key and see the quota left."
	case r.URL.Query().Has("saved"):
		v.Notice = "Changes saved."
	}
	return c.showConnection(w, r, s, v, nil)
}

func (c *Console) testConnection(w http.ResponseWriter, r *http.Request, s *session) error {
	var h enrich.HealthCheck
	if err := c.call(r, s, "POST", "/api/v1/connections/"+url.PathEscape(r.PathValue("name"))+"/test", nil, &h); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusConflict {
			return c.showConnection(w, r, s, &view{Error: "Not tested: " + ae.Detail}, nil)
		}
		return err
	}
	return c.showConnection(w, r, s, &view{}, &h)
}

func (c *Console) deleteConnection(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("name")
	if err := c.call(r, s, "DELETE", "/api/v1/connections/"+url.PathEscape(name), nil, nil); err != nil {
		return err
	}
	http.Redirect(w, r, "/connections", http.StatusSeeOther)
	return nil
}

// connForm is the add/edit form of a connection.
type connForm struct {
	New              bool
	Name             string
	Description      string
	Active           bool
	KeySet, KeyRef   bool
	ServerURL, Quota string
	Proxy            string
	Checks           []string
	HealthMinutes    string
	IncludePrivate   bool
	// NotifyEmails are the connection's own e-mail recipients, comma-separated;
	// NotifyWebhookURL its webhook, whose secret reference is WebhookSecretSet.
	NotifyEmails     string
	NotifyWebhookURL string
	WebhookSecretSet bool
	Sites            string
	Users            []string
	AllUsers         []user
	AllChecks        []string
}

func (c *Console) renderConnForm(w http.ResponseWriter, r *http.Request, s *session, f connForm, status int, msg string) error {
	us, err := c.usersList(r, s)
	if err != nil {
		return err
	}
	f.AllUsers, f.AllChecks = us, allChecks()
	title := "Add a connection"
	if !f.New {
		title = "Edit connection " + f.Name
	}
	c.render(w, r, status, "connection_form", &view{Title: title, Nav: "connections", Session: s, Error: msg, Data: f})
	return nil
}

func (c *Console) newConnection(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderConnForm(w, r, s, connForm{New: true, Active: true, Quota: "public", Checks: allChecks(), HealthMinutes: "60"}, http.StatusOK, "")
}

func (c *Console) editConnection(w http.ResponseWriter, r *http.Request, s *session) error {
	if _, err := c.usersList(r, s); err != nil {
		return err // admins only, before anything of the connection is shown
	}
	var cn store.ConnectionView
	if err := c.call(r, s, "GET", "/api/v1/connections/"+url.PathEscape(r.PathValue("name")), nil, &cn); err != nil {
		return err
	}
	f := connForm{Name: cn.Name, Description: cn.Description, Active: cn.Active, KeySet: cn.APIKeySet, KeyRef: cn.APIKeyRefSet,
		ServerURL: cn.ServerURL, Quota: cn.Quota, Proxy: cn.Proxy, Checks: cn.ReputationChecks,
		HealthMinutes: strconv.Itoa(cn.HealthCheckMinutes), IncludePrivate: cn.IncludePrivate,
		NotifyEmails: strings.Join(cn.NotifyEmails, ", "), NotifyWebhookURL: cn.NotifyWebhookURL,
		WebhookSecretSet: cn.NotifyWebhookSecretRefSet, Sites: strings.Join(cn.Sites, ", "), Users: cn.Users}
	return c.renderConnForm(w, r, s, f, http.StatusOK, "")
}

// readConnForm reads the form into the form's values and the API's body.
func readConnForm(r *http.Request, create bool) (connForm, map[string]any, error) {
	pf := r.PostForm
	f := connForm{New: create, Name: strings.TrimSpace(pf.Get("name")), Description: pf.Get("description"),
		// The form says active_field with its checkbox: a checkbox left unticked is
		// sent as nothing, and a form without it keeps the default, active.
		Active: pf.Get("active") != "" || pf.Get("active_field") == "", ServerURL: strings.TrimSpace(pf.Get("server_url")),
		Quota: strings.TrimSpace(pf.Get("quota")), Proxy: strings.TrimSpace(pf.Get("proxy")), Checks: pf["checks"],
		HealthMinutes: strings.TrimSpace(pf.Get("health_check_minutes")), IncludePrivate: pf.Get("include_private") != "",
		NotifyEmails: strings.TrimSpace(pf.Get("notify_emails")), NotifyWebhookURL: strings.TrimSpace(pf.Get("notify_webhook_url")),
		Sites: strings.TrimSpace(pf.Get("sites")), Users: pf["users"]}
	if f.Checks == nil {
		f.Checks = []string{}
	}
	if f.Users == nil {
		f.Users = []string{}
	}
	body := map[string]any{"server_url": f.ServerURL, "quota": f.Quota, "proxy": f.Proxy,
		"reputation_checks": f.Checks, "users": f.Users, "description": f.Description, "active": f.Active,
		"include_private": f.IncludePrivate, "notify_emails": splitList(f.NotifyEmails),
		"notify_webhook_url": f.NotifyWebhookURL}
	if create {
		body["name"] = f.Name
	}
	if key := strings.TrimSpace(pf.Get("api_key")); key != "" {
		body["api_key"] = key
	}
	if ref := strings.TrimSpace(pf.Get("api_key_ref")); ref != "" {
		body["api_key_ref"] = ref
	}
	if ref := strings.TrimSpace(pf.Get("notify_webhook_secret_ref")); ref != "" {
		body["notify_webhook_secret_ref"] = ref
	}
	body["sites"] = splitList(f.Sites)
	n := 0
	if f.HealthMinutes != "" {
		var err error
		if n, err = strconv.Atoi(f.HealthMinutes); err != nil {
			return f, nil, fmt.Errorf("the health-check interval must be a whole number of minutes (0: no scheduled checks), not %q", f.HealthMinutes)
		}
	}
	body["health_check_minutes"] = n
	return f, body, nil
}

// splitList reads a comma-separated list, its items trimmed, the empty ones left out.
func splitList(s string) []string {
	out := []string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func (c *Console) createConnection(w http.ResponseWriter, r *http.Request, s *session) error {
	f, body, err := readConnForm(r, true)
	if err != nil {
		return c.renderConnForm(w, r, s, f, http.StatusBadRequest, err.Error())
	}
	_, key := body["api_key"]
	_, ref := body["api_key_ref"]
	if !key && !ref {
		return c.renderConnForm(w, r, s, f, http.StatusBadRequest, "The API key is required: paste the key of your VirusTotal account, or give a reference to it.")
	}
	var out store.ConnectionView
	if err := c.call(r, s, "POST", "/api/v1/connections", body, &out); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict) {
			return c.renderConnForm(w, r, s, f, ae.Status, "The connection was not created: "+ae.Detail)
		}
		return err
	}
	http.Redirect(w, r, "/connections/"+url.PathEscape(out.Name)+"?created", http.StatusSeeOther)
	return nil
}

func (c *Console) updateConnection(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("name")
	f, body, err := readConnForm(r, false)
	f.Name = name
	if err != nil {
		return c.renderConnForm(w, r, s, f, http.StatusBadRequest, err.Error())
	}
	if err := c.call(r, s, "PATCH", "/api/v1/connections/"+url.PathEscape(name), body, nil); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
			f.KeySet = true
			return c.renderConnForm(w, r, s, f, ae.Status, "The changes were not saved: "+ae.Detail)
		}
		return err
	}
	http.Redirect(w, r, "/connections/"+url.PathEscape(name)+"?saved", http.StatusSeeOther)
	return nil
}
