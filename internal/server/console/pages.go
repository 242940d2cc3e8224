package console

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// user is a user as the API shows it.
type user struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Sites     []string  `json:"sites"`
	CreatedAt time.Time `json:"created_at"`
}

// allChecks are the reputation checks a connection may have switched on: one per
// observable kind.
func allChecks() []string {
	var out []string
	for _, k := range ioc.Kinds() {
		out = append(out, string(k))
	}
	return out
}

// --- sign in and out ---

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, err := c.session(r); err == nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.renderLogin(w, r, http.StatusOK, "")
}

type loginData struct {
	Next string
	CSRF string
}

// renderLogin draws the sign-in page, with a double-submit CSRF cookie.
func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok := ""
	if ck, err := r.Cookie(loginCookie); err == nil && len(ck.Value) >= 32 {
		tok = ck.Value
	} else {
		var b [24]byte
		rand.Read(b[:])
		tok = base64.RawURLEncoding.EncodeToString(b[:])
		setCookie(w, r, loginCookie, tok, time.Hour)
	}
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostForm.Get("next")
	}
	c.render(w, r, status, "login", &view{Title: "Sign in", Error: msg, Data: loginData{Next: localPath(next), CSRF: tok}})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.renderLogin(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !c.sameOrigin(r) || !hmac.Equal([]byte(ck.Value), []byte(r.PostForm.Get("csrf"))) {
		c.renderLogin(w, r, http.StatusForbidden, "This sign-in form is out of date. It has been reloaded: paste your token again.")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	token = strings.TrimPrefix(token, "Bearer ")
	if token == "" {
		c.renderLogin(w, r, http.StatusBadRequest, "Paste your token: an administrator makes one with `vtsoar user add NAME --role analyst`.")
		return
	}
	ar := r.Clone(r.Context())
	ar.Header = http.Header{"Authorization": {"Bearer " + token}}
	u, err := c.cfg.Authenticate(ar)
	if err != nil {
		c.log.InfoContext(r.Context(), "console: sign-in refused", "remote", r.RemoteAddr, "error", err)
		c.renderLogin(w, r, http.StatusUnauthorized, "That token was not accepted: it may be mistyped, or revoked. Tokens start with vtsoar_.")
		return
	}
	setCookie(w, r, sessionCookie, token, sessionAge)
	setCookie(w, r, loginCookie, "", -1)
	c.log.InfoContext(r.Context(), "console: signed in", "user", u.Name)
	http.Redirect(w, r, localPath(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// --- home ---

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

// --- connections ---

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
	New                 bool
	Name                string
	KeySet              bool
	ServerURL, Quota    string
	Proxy               string
	Checks              []string
	HealthMinutes       string
	Sites               string
	Users               []string
	AllUsers            []user
	AllChecks           []string
	NotificationsNotice string
}

// notificationsNotice says where health notifications are set: for the whole service.
const notificationsNotice = "Notifications of health changes (healthy to failing and back) go to the e-mail and webhook set for the whole service when it starts (vtsoar serve --smtp-host/--smtp-to, --webhook-url/--webhook-secret); they apply to every connection and cannot be changed here."

func (c *Console) usersList(r *http.Request, s *session) ([]user, error) {
	var us struct {
		Users []user `json:"users"`
	}
	// GET /api/v1/users is for admins: an analyst is refused here, by the API.
	err := c.call(r, s, "GET", "/api/v1/users", nil, &us)
	return us.Users, err
}

func (c *Console) renderConnForm(w http.ResponseWriter, r *http.Request, s *session, f connForm, status int, msg string) error {
	us, err := c.usersList(r, s)
	if err != nil {
		return err
	}
	f.AllUsers, f.AllChecks, f.NotificationsNotice = us, allChecks(), notificationsNotice
	title := "Add a connection"
	if !f.New {
		title = "Edit connection " + f.Name
	}
	c.render(w, r, status, "connection_form", &view{Title: title, Nav: "connections", Session: s, Error: msg, Data: f})
	return nil
}

func (c *Console) newConnection(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderConnForm(w, r, s, connForm{New: true, Quota: "public", Checks: allChecks(), HealthMinutes: "60"}, http.StatusOK, "")
}

func (c *Console) editConnection(w http.ResponseWriter, r *http.Request, s *session) error {
	if _, err := c.usersList(r, s); err != nil {
		return err // admins only, before anything of the connection is shown
	}
	var cn store.ConnectionView
	if err := c.call(r, s, "GET", "/api/v1/connections/"+url.PathEscape(r.PathValue("name")), nil, &cn); err != nil {
		return err
	}
	f := connForm{Name: cn.Name, KeySet: cn.APIKeySet, ServerURL: cn.ServerURL, Quota: cn.Quota, Proxy: cn.Proxy,
		Checks: cn.ReputationChecks, HealthMinutes: strconv.Itoa(cn.HealthCheckMinutes), Sites: strings.Join(cn.Sites, ", "), Users: cn.Users}
	return c.renderConnForm(w, r, s, f, http.StatusOK, "")
}

// readConnForm reads the form into the form's values and the API's body.
func readConnForm(r *http.Request, create bool) (connForm, map[string]any, error) {
	pf := r.PostForm
	f := connForm{New: create, Name: strings.TrimSpace(pf.Get("name")), ServerURL: strings.TrimSpace(pf.Get("server_url")),
		Quota: strings.TrimSpace(pf.Get("quota")), Proxy: strings.TrimSpace(pf.Get("proxy")), Checks: pf["checks"],
		HealthMinutes: strings.TrimSpace(pf.Get("health_check_minutes")), Sites: strings.TrimSpace(pf.Get("sites")), Users: pf["users"]}
	if f.Checks == nil {
		f.Checks = []string{}
	}
	if f.Users == nil {
		f.Users = []string{}
	}
	body := map[string]any{"server_url": f.ServerURL, "quota": f.Quota, "proxy": f.Proxy,
		"reputation_checks": f.Checks, "users": f.Users}
	if create {
		body["name"] = f.Name
	}
	if key := strings.TrimSpace(pf.Get("api_key")); key != "" {
		body["api_key"] = key
	}
	sites := []string{}
	for _, s := range strings.Split(f.Sites, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sites = append(sites, s)
		}
	}
	body["sites"] = sites
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

func (c *Console) createConnection(w http.ResponseWriter, r *http.Request, s *session) error {
	f, body, err := readConnForm(r, true)
	if err != nil {
		return c.renderConnForm(w, r, s, f, http.StatusBadRequest, err.Error())
	}
	if _, ok := body["api_key"]; !ok {
		return c.renderConnForm(w, r, s, f, http.StatusBadRequest, "The API key is required: paste the key of your VirusTotal account.")
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

// --- run a command ---

type runData struct {
	Commands      []*command.Command
	Command       *command.Command
	Connections   []store.ConnectionView
	Connection    string
	Relationships []vt.Relationship
	Relationship  string
	Inputs        string
	Fresh         bool
	Result        *runResult
}

type runResult struct {
	Env *command.Envelope
	// Widgets are the widget pages of context entries that carry HTML, by position.
	Widgets map[int]string
	// OK and Failed count the inputs.
	OK, Failed int
}

func (c *Console) runData(r *http.Request, s *session, name, conn string) (*runData, error) {
	d := &runData{Commands: command.All(), Connection: conn}
	if name == "" {
		name = "check-file-reputation"
	}
	cmd, ok := command.Lookup(name)
	if !ok {
		return nil, &apiError{Status: http.StatusNotFound, Detail: fmt.Sprintf("there is no command %q", name)}
	}
	d.Command = cmd
	if cmd.Takes(command.OptRelationship) && cmd.Kind != "" {
		d.Relationships = command.Relationships(cmd.Kind)
	}
	var list struct {
		Connections []store.ConnectionView `json:"connections"`
	}
	if err := c.call(r, s, "GET", "/api/v1/connections", nil, &list); err != nil {
		return nil, err
	}
	d.Connections = list.Connections
	return d, nil
}

func (c *Console) runForm(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	d, err := c.runData(r, s, q.Get("command"), q.Get("connection"))
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "run", &view{Title: "Run a command", Session: s, Data: d})
	return nil
}

// splitInputs reads one input per line, skipping blank lines and # comments.
func splitInputs(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

func (c *Console) run(w http.ResponseWriter, r *http.Request, s *session) error {
	pf := r.PostForm
	d, err := c.runData(r, s, pf.Get("command"), pf.Get("connection"))
	if err != nil {
		return err
	}
	d.Inputs, d.Relationship, d.Fresh = pf.Get("inputs"), pf.Get("relationship"), pf.Get("fresh") != ""
	v := &view{Title: "Run a command", Session: s, Data: d}
	body := map[string]any{"connection": d.Connection, "inputs": splitInputs(d.Inputs), "fresh": d.Fresh}
	if d.Command.NoInputs {
		body["inputs"] = []string{}
	}
	if d.Relationships != nil {
		body["relationship"] = d.Relationship
	}
	var env command.Envelope
	if err := c.call(r, s, "POST", "/api/v1/commands/"+d.Command.Name, body, &env); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status == http.StatusUnauthorized {
			return err
		}
		v.Error = "The command did not run: " + ae.Detail
		c.render(w, r, http.StatusOK, "run", v)
		return nil
	}
	res := &runResult{Env: &env, Widgets: map[int]string{}}
	for i, ce := range env.ContextData {
		if ce.Status == command.StatusOK {
			res.OK++
		} else {
			res.Failed++
		}
		if h, ok := ce.Details["html"].(string); ok && h != "" {
			res.Widgets[i] = c.widgets.put(h)
		}
	}
	d.Result = res
	c.render(w, r, http.StatusOK, "run", v)
	return nil
}

// --- events ---

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

// --- users and sites ---

type usersData struct {
	Users []user
	// Sites are the sites named by users and connections, with who and what serves
	// them.
	Sites []siteRow
}

type siteRow struct {
	Name        string
	Users       []string
	Connections []string
}

func (c *Console) users(w http.ResponseWriter, r *http.Request, s *session) error {
	us, err := c.usersList(r, s)
	if err != nil {
		return err
	}
	var list struct {
		Connections []store.ConnectionView `json:"connections"`
	}
	if err := c.call(r, s, "GET", "/api/v1/connections", nil, &list); err != nil {
		return err
	}
	sites := map[string]*siteRow{}
	row := func(name string) *siteRow {
		if sites[name] == nil {
			sites[name] = &siteRow{Name: name}
		}
		return sites[name]
	}
	for _, u := range us {
		for _, st := range u.Sites {
			if st != store.AllSites {
				row(st).Users = append(row(st).Users, u.Name)
			}
		}
	}
	for _, cn := range list.Connections {
		for _, st := range cn.Sites {
			row(st).Connections = append(row(st).Connections, cn.Name)
		}
	}
	d := usersData{Users: us}
	for _, sr := range sites {
		d.Sites = append(d.Sites, *sr)
	}
	slices.SortFunc(d.Sites, func(a, b siteRow) int { return strings.Compare(a.Name, b.Name) })
	c.render(w, r, http.StatusOK, "users", &view{Title: "Users and sites", Session: s, Data: d})
	return nil
}
