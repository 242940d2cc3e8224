package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// connectionIn is a connection as the API takes it. Absent members keep their value
// (PATCH, and api_key on PUT) or take their default (POST, PUT).
type connectionIn struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Active      *bool   `json:"active"`
	APIKey      *string `json:"api_key"`
	// APIKeyRef is the key as a secret reference resolved at each use, taken when it
	// matches the operator's patterns (Config.AllowSecretRefs).
	APIKeyRef          *string   `json:"api_key_ref"`
	APIVersion         *string   `json:"api_version"`
	ServerURL          *string   `json:"server_url"`
	Quota              *string   `json:"quota"`
	Proxy              *string   `json:"proxy"`
	ReputationChecks   *[]string `json:"reputation_checks"`
	HealthCheckMinutes *int      `json:"health_check_minutes"`
	Sites              *[]string `json:"sites"`
	Users              *[]string `json:"users"`
	// RiskPolicy is the connection's risk policy (risk.ParsePolicy); null is the
	// default policy, absent keeps it (a json.RawMessage keeps "null" where a
	// pointer would not tell it from absent).
	RiskPolicy     json.RawMessage `json:"risk_policy"`
	IncludePrivate *bool           `json:"include_private"`
	// The connection's own health notification recipients ([] and "": none).
	NotifyEmails           *[]string `json:"notify_emails"`
	NotifyWebhookURL       *string   `json:"notify_webhook_url"`
	NotifyWebhookSecretRef *string   `json:"notify_webhook_secret_ref"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// decodeJSON reads a JSON body of at most MaxJSONBody bytes into v, refusing unknown
// members and trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return &apiError{status: http.StatusUnsupportedMediaType, typ: ProblemInvalidRequest,
			detail: fmt.Sprintf("the body must be application/json, not %s", ct)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return badRequest("the request body is empty; a JSON object is expected")
		}
		return badRequest("the body is not valid JSON for this endpoint: %v", err)
	}
	if dec.More() {
		return badRequest("the body holds more than one JSON value")
	}
	return nil
}

// apply validates in and writes it onto c; create says whether c is new.
func (s *Server) apply(ctx context.Context, c *store.Connection, in connectionIn, create bool) error {
	switch {
	case in.APIKey != nil && in.APIKeyRef != nil:
		return badRequest("give api_key or api_key_ref, not both")
	case in.APIKey != nil:
		key := strings.TrimSpace(*in.APIKey)
		if err := store.CheckAPIKey(key); err != nil {
			return badRequest("api_key: %v", err)
		}
		sealed, err := connclient.SealKey(s.cfg.Cipher, c.Name, key)
		if err != nil {
			return internal(err)
		}
		c.SealedAPIKey, c.SealedAPIKeyRef = sealed, nil
	case in.APIKeyRef != nil:
		ref := strings.TrimSpace(*in.APIKeyRef)
		if err := s.allowedRef(ctx, "api_key_ref", ref); err != nil {
			return err
		}
		sealed, err := connclient.SealKeyRef(s.cfg.Cipher, c.Name, ref)
		if err != nil {
			return internal(err)
		}
		c.SealedAPIKey, c.SealedAPIKeyRef = nil, sealed
	case create:
		return badRequest("api_key or api_key_ref is required")
	}
	if in.Description != nil {
		if err := store.CheckDescription(*in.Description); err != nil {
			return badRequest("%v", err)
		}
		c.Description = *in.Description
	}
	if in.Active != nil {
		c.Inactive = !*in.Active
	}
	if in.APIVersion != nil {
		v := strings.TrimSpace(*in.APIVersion)
		if err := store.CheckAPIVersion(v); err != nil {
			return badRequest("api_version: %v", err)
		}
		c.APIVersion = v
	}
	if in.IncludePrivate != nil {
		c.IncludePrivate = *in.IncludePrivate
	}
	if err := s.applyNotify(ctx, c, in); err != nil {
		return err
	}
	if in.ServerURL != nil {
		v, err := optionalURL("server_url", *in.ServerURL, vt.ParseServerURL)
		if err != nil {
			return err
		}
		c.ServerURL = v
	}
	if in.Quota != nil {
		v := strings.TrimSpace(*in.Quota)
		if v != "" {
			spec, err := quota.ParseSpec(v)
			if err != nil {
				return badRequest("quota: %v", err)
			}
			v = spec.String()
		}
		c.Quota = v
	} else if create {
		c.Quota = quota.Public.String()
	}
	if in.Proxy != nil {
		v, err := optionalURL("proxy", *in.Proxy, vt.ParseProxyURL)
		if err != nil {
			return err
		}
		if err := connclient.SetProxy(s.cfg.Cipher, c, v); err != nil {
			return internal(err)
		}
	}
	if in.ReputationChecks != nil {
		c.ReputationChecks = nil
		for _, name := range *in.ReputationChecks {
			k, err := ioc.ParseKind(name)
			if err != nil {
				return badRequest("reputation_checks: %v", err)
			}
			if !slices.Contains(c.ReputationChecks, k) {
				c.ReputationChecks = append(c.ReputationChecks, k)
			}
		}
	} else if create {
		c.ReputationChecks = ioc.Kinds() // every kind when none are given
	}
	if in.HealthCheckMinutes != nil {
		if *in.HealthCheckMinutes < 0 || *in.HealthCheckMinutes > 7*24*60 {
			return badRequest("health_check_minutes must be between 0 (none) and 10080 (a week)")
		}
		c.HealthCheckMinutes = *in.HealthCheckMinutes
	}
	if in.Sites != nil {
		sites, err := store.CleanSites(*in.Sites)
		if err != nil {
			return badRequest("sites: %v", err)
		}
		if slices.Contains(sites, store.AllSites) {
			sites = nil // every site
		}
		c.Sites = sites
	}
	if len(in.RiskPolicy) > 0 { // given, maybe as null
		c.RiskPolicy = risk.Policy{}
		if raw := strings.TrimSpace(string(in.RiskPolicy)); raw != "null" {
			p, err := risk.ParsePolicy(in.RiskPolicy)
			if err != nil {
				return badRequest("%v", err)
			}
			if !reflect.DeepEqual(p, risk.DefaultPolicy()) {
				c.RiskPolicy = p
			}
		}
	}
	if in.Users != nil {
		users, err := store.CleanUsers(*in.Users)
		if err != nil {
			return badRequest("users: %v", err)
		}
		c.Users = users
	}
	return nil
}

// applyNotify writes the connection's own health notification recipients of in onto
// c: a webhook needs its secret reference, kept when the URL is given again without
// one, dropped with the URL.
func (s *Server) applyNotify(ctx context.Context, c *store.Connection, in connectionIn) error {
	if in.NotifyEmails != nil {
		emails := make([]string, 0, len(*in.NotifyEmails))
		for _, e := range *in.NotifyEmails {
			if e = strings.TrimSpace(e); e != "" && !slices.Contains(emails, e) {
				emails = append(emails, e)
			}
		}
		if err := store.CheckNotifyEmails(emails); err != nil {
			return badRequest("notify_emails: %v", err)
		}
		c.NotifyEmails = emails
		if len(emails) == 0 {
			c.NotifyEmails = nil
		}
	}
	if in.NotifyWebhookURL != nil {
		u := strings.TrimSpace(*in.NotifyWebhookURL)
		if u != "" {
			if err := store.CheckWebhookURL(u); err != nil {
				return badRequest("notify_webhook_url: %v", err)
			}
		}
		c.NotifyWebhookURL = u
	}
	if in.NotifyWebhookSecretRef != nil {
		ref := strings.TrimSpace(*in.NotifyWebhookSecretRef)
		if ref == "" {
			c.SealedNotifyWebhookSecretRef = nil
		} else {
			if err := s.allowedRef(ctx, "notify_webhook_secret_ref", ref); err != nil {
				return err
			}
			sealed, err := connclient.SealWebhookSecretRef(s.cfg.Cipher, c.Name, ref)
			if err != nil {
				return internal(err)
			}
			c.SealedNotifyWebhookSecretRef = sealed
		}
	}
	if c.NotifyWebhookURL == "" {
		c.SealedNotifyWebhookSecretRef = nil
	} else if len(c.SealedNotifyWebhookSecretRef) == 0 {
		return badRequest("notify_webhook_url needs notify_webhook_secret_ref, the reference of the key that signs its bodies")
	}
	return nil
}

// allowedRef checks a secret reference given as the member name: it matches one of
// the operator's patterns (never an exec: one), and resolves now (what it names
// exists). Its answer is not kept: it is resolved at each use.
func (s *Server) allowedRef(ctx context.Context, name, ref string) error {
	if err := secret.AllowedRef(ref, s.cfg.AllowSecretRefs); err != nil {
		return badRequest("%s: %v", name, err)
	}
	if _, err := (&secret.Resolver{}).Resolve(ctx, ref); err != nil {
		return badRequest("%s: %v", name, err)
	}
	return nil
}

// optionalURL is the URL member name of a connection, trimmed, checked with parse
// unless it is empty (none).
func optionalURL(name, v string, parse func(string) (*url.URL, error)) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if _, err := parse(v); err != nil {
		return "", badRequest("%s: %v", name, err)
	}
	return v, nil
}

func (s *Server) handleListConnections(w http.ResponseWriter, r *http.Request, u *store.User) error {
	list, err := s.cfg.Store.ListConnections(r.Context())
	if err != nil {
		return internal(err)
	}
	out := []store.ConnectionView{}
	for _, c := range list {
		if mayUse(u, c) == nil {
			out = append(out, c.View())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": out})
	return nil
}

// connectionFor returns the connection named in the path, as u may see it: a
// connection u may not use is 404 to an analyst, so that names do not leak.
func (s *Server) connectionFor(r *http.Request, u *store.User, name string) (store.Connection, error) {
	c, err := s.cfg.Store.GetConnection(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return c, notFound("no connection %q", name)
	}
	if err != nil {
		return c, internal(err)
	}
	if mayUse(u, c) != nil {
		return c, notFound("no connection %q", name)
	}
	return c, nil
}

func (s *Server) handleGetConnection(w http.ResponseWriter, r *http.Request, u *store.User) error {
	c, err := s.connectionFor(r, u, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c.View())
	return nil
}

func (s *Server) handleCreateConnection(w http.ResponseWriter, r *http.Request, u *store.User) error {
	var in connectionIn
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Name == nil {
		return badRequest("name is required")
	}
	c := store.Connection{Name: strings.TrimSpace(*in.Name)}
	if err := store.CheckConnectionName(c.Name); err != nil {
		return badRequest("%v", err)
	}
	if err := s.apply(r.Context(), &c, in, true); err != nil {
		return err
	}
	if err := s.cfg.Store.CreateConnection(r.Context(), c); err != nil {
		if errors.Is(err, store.ErrExists) {
			return conflict("a connection %q exists already", c.Name)
		}
		return internal(err)
	}
	c, err := s.cfg.Store.GetConnection(r.Context(), c.Name)
	if err != nil {
		return internal(err)
	}
	s.log.InfoContext(r.Context(), "connection created", "connection", c.Name, "by", u.Name)
	w.Header().Set("Location", "/api/v1/connections/"+url.PathEscape(c.Name))
	writeJSON(w, http.StatusCreated, c.View())
	return nil
}

func (s *Server) updateConnection(w http.ResponseWriter, r *http.Request, u *store.User, put bool) error {
	name := r.PathValue("name")
	var in connectionIn
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Name != nil && strings.TrimSpace(*in.Name) != name {
		return badRequest("a connection cannot be renamed (name %q in the body, %q in the path)", *in.Name, name)
	}
	c, err := s.cfg.Store.GetConnection(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no connection %q", name)
	} else if err != nil {
		return internal(err)
	}
	if put {
		// PUT replaces the connection: what is not given takes its default, except the
		// key, which is kept when not given (it cannot be read back to send it again).
		prev := c
		c = store.Connection{Name: c.Name, SealedAPIKey: c.SealedAPIKey, SealedAPIKeyRef: c.SealedAPIKeyRef,
			CreatedAt: c.CreatedAt, ReputationChecks: ioc.Kinds()}
		if in.NotifyWebhookURL != nil && strings.TrimSpace(*in.NotifyWebhookURL) == prev.NotifyWebhookURL {
			c.NotifyWebhookURL, c.SealedNotifyWebhookSecretRef = prev.NotifyWebhookURL, prev.SealedNotifyWebhookSecretRef
		}
		if in.Proxy != nil && strings.TrimSpace(*in.Proxy) == prev.Proxy {
			c.Proxy, c.SealedProxy = prev.Proxy, prev.SealedProxy // as shown: kept
		}
		if in.Quota == nil {
			in.Quota = new(string)
		}
	}
	if err := s.apply(r.Context(), &c, in, false); err != nil {
		return err
	}
	if put && c.Quota == "" {
		c.Quota = quota.Public.String()
	}
	if err := s.cfg.Store.UpdateConnection(r.Context(), c); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("no connection %q", name)
		}
		return internal(err)
	}
	s.connectionChanged(name)
	c, err = s.cfg.Store.GetConnection(r.Context(), name)
	if err != nil {
		return internal(err)
	}
	s.log.InfoContext(r.Context(), "connection updated", "connection", name, "by", u.Name, "key_changed", in.APIKey != nil)
	writeJSON(w, http.StatusOK, c.View())
	return nil
}

func (s *Server) handlePutConnection(w http.ResponseWriter, r *http.Request, u *store.User) error {
	return s.updateConnection(w, r, u, true)
}

func (s *Server) handlePatchConnection(w http.ResponseWriter, r *http.Request, u *store.User) error {
	return s.updateConnection(w, r, u, false)
}

func (s *Server) handleDeleteConnection(w http.ResponseWriter, r *http.Request, u *store.User) error {
	name := r.PathValue("name")
	if err := s.cfg.Store.DeleteConnection(r.Context(), name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("no connection %q", name)
		}
		return internal(err)
	}
	s.connectionChanged(name)
	s.log.InfoContext(r.Context(), "connection deleted", "connection", name, "by", u.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// connectionChanged drops what this process holds of connection name (its client, the
// gateway's keys), so that it serves the change at once.
func (s *Server) connectionChanged(name string) {
	s.conns.Forget(name)
	s.gateway.Forget()
}
