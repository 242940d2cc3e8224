package console

// The gateway keys page (admins): the keys VirusTotal's own clients send to the
// VirusTotal gateway (/api/v3) in place of a connection's key.

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/vtsoar/vtsoar/internal/store"
)

type gatewayKeysData struct {
	Keys        []store.GatewayKeyView
	Connections []string
	// Form is what the add form holds (after a refusal, what was typed).
	Form gatewayKeyForm
	// Created is the key just made, shown this once.
	Created *newGatewayKey
	// Gateway is the gateway's address as the browser reached the console.
	Gateway string
}

type gatewayKeyForm struct {
	Name, Connection, Priority, MaxWait, MaxAge string
}

type newGatewayKey struct {
	Name       string `json:"name"`
	Connection string `json:"connection"`
	Key        string `json:"key"`
}

func (c *Console) gatewayKeys(w http.ResponseWriter, r *http.Request, s *session) error {
	v := &view{}
	if r.URL.Query().Has("removed") {
		v.Notice = "Gateway key removed: refused here from now on, by the other replicas within a second; it sends nothing more to VirusTotal."
	}
	return c.renderGatewayKeys(w, r, s, v, gatewayKeyForm{Priority: store.GatewayInteractive, MaxWait: "90s", MaxAge: "24h"}, nil, http.StatusOK)
}

func (c *Console) renderGatewayKeys(w http.ResponseWriter, r *http.Request, s *session, v *view, f gatewayKeyForm, created *newGatewayKey, status int) error {
	var keys struct {
		Keys []store.GatewayKeyView `json:"gateway_keys"`
	}
	// GET /api/v1/gateway-keys is for admins: an analyst is refused here, by the API.
	if err := c.call(r, s, "GET", "/api/v1/gateway-keys", nil, &keys); err != nil {
		return err
	}
	var list struct {
		Connections []store.ConnectionView `json:"connections"`
	}
	if err := c.call(r, s, "GET", "/api/v1/connections", nil, &list); err != nil {
		return err
	}
	d := gatewayKeysData{Keys: keys.Keys, Form: f, Created: created, Gateway: "http://" + r.Host}
	if r.TLS != nil {
		d.Gateway = "https://" + r.Host
	}
	for _, cn := range list.Connections {
		d.Connections = append(d.Connections, cn.Name)
	}
	v.Title, v.Session, v.Data = "Gateway keys", s, d
	c.render(w, r, status, "gatewaykeys", v)
	return nil
}

func (c *Console) createGatewayKey(w http.ResponseWriter, r *http.Request, s *session) error {
	pf := r.PostForm
	f := gatewayKeyForm{Name: strings.TrimSpace(pf.Get("name")), Connection: pf.Get("connection"), Priority: pf.Get("priority"),
		MaxWait: strings.TrimSpace(pf.Get("max_wait")), MaxAge: strings.TrimSpace(pf.Get("max_age"))}
	body := map[string]any{"name": f.Name, "connection": f.Connection, "priority": f.Priority}
	if f.MaxWait != "" {
		body["max_wait"] = f.MaxWait
	}
	if f.MaxAge != "" {
		body["max_age"] = f.MaxAge
	}
	var created newGatewayKey
	if err := c.call(r, s, "POST", "/api/v1/gateway-keys", body, &created); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict) {
			return c.renderGatewayKeys(w, r, s, &view{Error: ae.Detail}, f, nil, ae.Status)
		}
		return err
	}
	return c.renderGatewayKeys(w, r, s, &view{Notice: "Gateway key " + created.Name + " made. Copy it now: it is shown this once."},
		gatewayKeyForm{Priority: store.GatewayInteractive, MaxWait: "90s", MaxAge: "24h"}, &created, http.StatusOK)
}

func (c *Console) deleteGatewayKey(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.call(r, s, "DELETE", "/api/v1/gateway-keys/"+url.PathEscape(r.PathValue("name")), nil, nil); err != nil {
		return err
	}
	http.Redirect(w, r, "/gateway-keys?removed", http.StatusSeeOther)
	return nil
}
