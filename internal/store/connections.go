package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/ioc"
)

// Connection is a stored VirusTotal connection: an API key and how to use it.
type Connection struct {
	// Name identifies the connection (--connection NAME).
	Name string
	// Description is free text about the connection (CheckDescription).
	Description string
	// Inactive: the connection runs nothing (no command, health check or
	// enrichment); D3 SOAR's Active unticked.
	Inactive bool
	// SealedAPIKey is the API key sealed by secret.Cipher.Seal; the store never holds
	// the key in clear. Empty when SealedAPIKeyRef holds a reference instead.
	SealedAPIKey []byte
	// SealedAPIKeyRef is the API key as a secret reference (env:NAME, file:PATH,
	// exec:COMMAND) resolved at each use, sealed as the key is so that what the
	// database holds cannot be changed into another reference without the master
	// key. Exactly one of SealedAPIKey and SealedAPIKeyRef is set.
	SealedAPIKeyRef []byte
	// APIVersion is the VirusTotal API version ("" or "v3", the only one).
	APIVersion string
	// ServerURL is the VirusTotal server (empty: the default).
	ServerURL string
	// Quota is the budget spec ("public", "premium" or "N/min,N/day,N/month").
	Quota string
	// Proxy is the URL of the connection's proxy, if any, as it is shown: a password
	// in it is masked (secret.RedactURL), the URL with its password being sealed in
	// SealedProxy (connclient.SetProxy, connclient.OpenProxy).
	Proxy string
	// SealedProxy is the proxy URL with its password, sealed by secret.Cipher.Seal;
	// nil when the proxy has no password. The store never holds a proxy's password in
	// clear, except in Proxy for a connection stored before proxies were sealed
	// (connclient.SealProxies seals those).
	SealedProxy []byte
	// ReputationChecks are the observable kinds this connection enriches events with
	// (the System Reputation Check).
	ReputationChecks []ioc.Kind
	// HealthCheckMinutes is the interval of scheduled connection tests (0: none).
	HealthCheckMinutes int
	// Sites are the sites whose events the connection enriches (empty: all).
	Sites []string
	// Users are the users allowed to run the connection (empty: all).
	Users []string
	// RiskPolicy derives the risk levels of the connection's results (zero value:
	// risk.DefaultPolicy()).
	RiskPolicy risk.Policy
	// IncludePrivate sends private, reserved, loopback, link-local and documentation
	// addresses and names to VirusTotal (the commands and the enrichment skip them
	// otherwise).
	IncludePrivate bool
	// NotifyEmails and NotifyWebhookURL are the connection's own recipients of its
	// health notifications, which replace the service's when any is set; the
	// webhook's HMAC key is the secret reference sealed in SealedNotifyWebhookSecretRef.
	NotifyEmails                 []string
	NotifyWebhookURL             string
	SealedNotifyWebhookSecretRef []byte
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt, UpdatedAt time.Time
}

// ErrInactive is wrapped by the error of using a connection that is not active: it
// runs nothing, and nothing is sent on it.
var ErrInactive = errors.New("the connection is inactive")

// ConnectionAPIVersion is the one API version a connection may have.
const ConnectionAPIVersion = "v3"

// MaxDescriptionLen bounds a connection's description, in characters.
const MaxDescriptionLen = 1000

// CheckDescription refuses a connection's description longer than
// MaxDescriptionLen characters or holding a control character (CheckText).
func CheckDescription(s string) error {
	if n := utf8.RuneCountInString(s); n > MaxDescriptionLen {
		return fmt.Errorf("description is %d characters long; at most %d", n, MaxDescriptionLen)
	}
	return CheckText("description", s)
}

// CheckAPIVersion refuses an API version other than v3 ("" is v3).
func CheckAPIVersion(v string) error {
	if v != "" && v != ConnectionAPIVersion {
		return fmt.Errorf("unsupported API version %q: VirusTotal's API v3 is the only one (api_version v3)", v)
	}
	return nil
}

// Connections stores connections.
type Connections interface {
	// CreateConnection stores a new connection; ErrExists if the name is taken.
	CreateConnection(ctx context.Context, c Connection) error
	// UpdateConnection replaces a connection (all fields but Name and CreatedAt);
	// ErrNotFound if there is none by that name.
	UpdateConnection(ctx context.Context, c Connection) error
	// GetConnection returns a connection; ErrNotFound if there is none.
	GetConnection(ctx context.Context, name string) (Connection, error)
	// ListConnections returns every connection, by name.
	ListConnections(ctx context.Context) ([]Connection, error)
	// DeleteConnection removes a connection; ErrNotFound if there is none.
	DeleteConnection(ctx context.Context, name string) error
}

// ConnectionView is a connection as people and API clients see it: never its key (only
// whether one is set) and a proxy's password masked. The REST API, the console and
// `vtsoar connection list` all show this.
type ConnectionView struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Active      bool   `json:"active"`
	APIKeySet   bool   `json:"api_key_set"`
	// APIKeyRefSet says that the key is a secret reference resolved at each use
	// (the reference is never shown, as a key is not).
	APIKeyRefSet       bool     `json:"api_key_ref_set"`
	APIVersion         string   `json:"api_version"`
	ServerURL          string   `json:"server_url"`
	Quota              string   `json:"quota"`
	Proxy              string   `json:"proxy"`
	ReputationChecks   []string `json:"reputation_checks"`
	HealthCheckMinutes int      `json:"health_check_minutes"`
	Sites              []string `json:"sites"`
	Users              []string `json:"users"`
	// RiskPolicy is the connection's risk policy with its defaults written out.
	RiskPolicy     risk.Policy `json:"risk_policy"`
	IncludePrivate bool        `json:"include_private"`
	// The connection's own health notification recipients: whether its webhook's
	// secret reference is set, never the reference.
	NotifyEmails              []string  `json:"notify_emails"`
	NotifyWebhookURL          string    `json:"notify_webhook_url"`
	NotifyWebhookSecretRefSet bool      `json:"notify_webhook_secret_ref_set"`
	CreatedAt                 time.Time `json:"created_at"`
	UpdatedAt                 time.Time `json:"updated_at"`
}

// View returns the connection as shown: the server URL as used (the default when none
// was given), lists never nil so that JSON shows [].
func (c Connection) View() ConnectionView {
	v := ConnectionView{
		Name: c.Name, Description: c.Description, Active: !c.Inactive,
		APIKeySet: len(c.SealedAPIKey) > 0 || len(c.SealedAPIKeyRef) > 0, APIKeyRefSet: len(c.SealedAPIKeyRef) > 0,
		APIVersion: ConnectionAPIVersion, ServerURL: NormalizeServerURL(c.ServerURL), Quota: c.Quota,
		Proxy: secret.RedactURL(c.Proxy), HealthCheckMinutes: c.HealthCheckMinutes,
		ReputationChecks: make([]string, 0, len(c.ReputationChecks)),
		Sites:            append([]string{}, c.Sites...), Users: append([]string{}, c.Users...),
		RiskPolicy: c.RiskPolicy.Normalized(), IncludePrivate: c.IncludePrivate,
		NotifyEmails: append([]string{}, c.NotifyEmails...), NotifyWebhookURL: c.NotifyWebhookURL,
		NotifyWebhookSecretRefSet: len(c.SealedNotifyWebhookSecretRef) > 0,
		CreatedAt:                 c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	for _, k := range c.ReputationChecks {
		v.ReputationChecks = append(v.ReputationChecks, string(k))
	}
	return v
}

const connColumns = `name, sealed_api_key, server_url, quota, proxy, reputation_checks,
health_check_minutes, sites, users, created_at, updated_at, risk_policy, sealed_proxy,
inactive, description, api_version, include_private, notify_emails, notify_webhook_url,
sealed_notify_webhook_secret_ref, sealed_api_key_ref`

// sqlBool is b as the INTEGER column that holds it (0 or 1).
func sqlBool(b bool) int {
	if b {
		return 1
	}
	return 0
}

func jsonList[T any](v []T) string {
	if v == nil {
		v = []T{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func validConnection(c Connection) error {
	if strings.TrimSpace(c.Name) == "" {
		return errors.New("connection name is empty")
	}
	if (len(c.SealedAPIKey) == 0) == (len(c.SealedAPIKeyRef) == 0) {
		return fmt.Errorf("connection %s: want a sealed API key or a sealed reference to it, one of the two", c.Name)
	}
	if err := CheckDescription(c.Description); err != nil {
		return fmt.Errorf("connection %s: %w", c.Name, err)
	}
	if err := CheckAPIVersion(c.APIVersion); err != nil {
		return fmt.Errorf("connection %s: %w", c.Name, err)
	}
	if err := CheckNotifyEmails(c.NotifyEmails); err != nil {
		return fmt.Errorf("connection %s: %w", c.Name, err)
	}
	if c.NotifyWebhookURL != "" {
		if err := CheckWebhookURL(c.NotifyWebhookURL); err != nil {
			return fmt.Errorf("connection %s: %w", c.Name, err)
		}
	}
	if (c.NotifyWebhookURL == "") != (len(c.SealedNotifyWebhookSecretRef) == 0) {
		return fmt.Errorf("connection %s: a notification webhook needs both its URL and its secret", c.Name)
	}
	if err := c.RiskPolicy.Validate(); err != nil {
		return fmt.Errorf("connection %s: %w", c.Name, err)
	}
	return nil
}

// emptyIfNil is b, or an empty value when b is nil (for a column that is NOT NULL).
func emptyIfNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nilIfEmpty is b, or SQL NULL when b is empty.
func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// policyText is the stored form of a risk policy: ” for the default one.
func policyText(p risk.Policy) (string, error) {
	if p.IsZero() {
		return "", nil
	}
	b, err := json.Marshal(p.Normalized())
	return string(b), err
}

// CreateConnection implements Connections.
func (s *sqlStore) CreateConnection(ctx context.Context, c Connection) error {
	if err := validConnection(c); err != nil {
		return err
	}
	now := micros(s.opts.now())
	policy, err := policyText(c.RiskPolicy)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM connections WHERE name = ?`, c.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("connection %s: %w", c.Name, ErrExists)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO connections (`+connColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Name, emptyIfNil(c.SealedAPIKey), c.ServerURL, c.Quota, c.Proxy, jsonList(c.ReputationChecks),
			c.HealthCheckMinutes, jsonList(c.Sites), jsonList(c.Users), now, now, policy, nilIfEmpty(c.SealedProxy),
			sqlBool(c.Inactive), c.Description, c.APIVersion, sqlBool(c.IncludePrivate), jsonList(c.NotifyEmails), c.NotifyWebhookURL,
			nilIfEmpty(c.SealedNotifyWebhookSecretRef), nilIfEmpty(c.SealedAPIKeyRef))
		return err
	})
}

// UpdateConnection implements Connections.
func (s *sqlStore) UpdateConnection(ctx context.Context, c Connection) error {
	if err := validConnection(c); err != nil {
		return err
	}
	policy, err := policyText(c.RiskPolicy)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE connections SET sealed_api_key = ?, server_url = ?, quota = ?,
proxy = ?, reputation_checks = ?, health_check_minutes = ?, sites = ?, users = ?, updated_at = ?, risk_policy = ?,
sealed_proxy = ?, inactive = ?, description = ?, api_version = ?, include_private = ?, notify_emails = ?,
notify_webhook_url = ?, sealed_notify_webhook_secret_ref = ?, sealed_api_key_ref = ? WHERE name = ?`,
			emptyIfNil(c.SealedAPIKey), c.ServerURL, c.Quota, c.Proxy, jsonList(c.ReputationChecks), c.HealthCheckMinutes,
			jsonList(c.Sites), jsonList(c.Users), micros(s.opts.now()), policy, nilIfEmpty(c.SealedProxy),
			sqlBool(c.Inactive), c.Description, c.APIVersion, sqlBool(c.IncludePrivate), jsonList(c.NotifyEmails), c.NotifyWebhookURL,
			nilIfEmpty(c.SealedNotifyWebhookSecretRef), nilIfEmpty(c.SealedAPIKeyRef), c.Name)
		if err != nil {
			return err
		}
		return oneRow(res, "connection", c.Name)
	})
}

func scanConnection(r rowScanner) (Connection, error) {
	var (
		c                                    Connection
		checks, sites, users, policy, emails string
		created, updated                     int64
		inactive, private                    int
	)
	if err := r.Scan(&c.Name, &c.SealedAPIKey, &c.ServerURL, &c.Quota, &c.Proxy, &checks,
		&c.HealthCheckMinutes, &sites, &users, &created, &updated, &policy, &c.SealedProxy,
		&inactive, &c.Description, &c.APIVersion, &private, &emails, &c.NotifyWebhookURL,
		&c.SealedNotifyWebhookSecretRef, &c.SealedAPIKeyRef); err != nil {
		return Connection{}, err
	}
	c.Inactive, c.IncludePrivate = inactive != 0, private != 0
	if err := json.Unmarshal([]byte(emails), &c.NotifyEmails); err != nil {
		return Connection{}, fmt.Errorf("connection %s: notify_emails: %w", c.Name, err)
	}
	for _, b := range []*[]byte{&c.SealedAPIKey, &c.SealedNotifyWebhookSecretRef, &c.SealedAPIKeyRef} {
		if len(*b) == 0 {
			*b = nil
		}
	}
	if len(c.NotifyEmails) == 0 {
		c.NotifyEmails = nil
	}
	if policy != "" {
		p, err := risk.ParsePolicy([]byte(policy))
		if err != nil {
			return Connection{}, fmt.Errorf("connection %s: %w", c.Name, err)
		}
		c.RiskPolicy = p
	}
	var kinds []string
	if err := json.Unmarshal([]byte(checks), &kinds); err != nil {
		return Connection{}, fmt.Errorf("connection %s: reputation_checks: %w", c.Name, err)
	}
	for _, k := range kinds {
		c.ReputationChecks = append(c.ReputationChecks, ioc.Kind(k))
	}
	if err := json.Unmarshal([]byte(sites), &c.Sites); err != nil {
		return Connection{}, fmt.Errorf("connection %s: sites: %w", c.Name, err)
	}
	if err := json.Unmarshal([]byte(users), &c.Users); err != nil {
		return Connection{}, fmt.Errorf("connection %s: users: %w", c.Name, err)
	}
	if len(c.Sites) == 0 {
		c.Sites = nil
	}
	if len(c.SealedProxy) == 0 {
		c.SealedProxy = nil
	}
	if len(c.Users) == 0 {
		c.Users = nil
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, nil
}

// GetConnection implements Connections.
func (s *sqlStore) GetConnection(ctx context.Context, name string) (Connection, error) {
	c, err := scanConnection(s.queryRow(ctx, `SELECT `+connColumns+` FROM connections WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Connection{}, fmt.Errorf("connection %s: %w", name, ErrNotFound)
	}
	return c, err
}

// ListConnections implements Connections.
func (s *sqlStore) ListConnections(ctx context.Context) ([]Connection, error) {
	return queryAll(ctx, s.db, scanConnection, `SELECT `+connColumns+` FROM connections ORDER BY name`)
}

// DeleteConnection implements Connections.
func (s *sqlStore) DeleteConnection(ctx context.Context, name string) error {
	return s.deleteNamed(ctx, "connections", "connection", name)
}

// CheckNotifyEmails refuses a connection's notification recipient that is not one
// e-mail address as net/mail reads it ("soc@example.org", "SOC <soc@example.org>"),
// or that holds a control character.
func CheckNotifyEmails(emails []string) error {
	for _, e := range emails {
		if err := CheckText("e-mail address", e); err != nil {
			return err
		}
		if _, err := mail.ParseAddress(e); err != nil {
			return fmt.Errorf("e-mail address %q: %w", e, err)
		}
	}
	return nil
}

// CheckWebhookURL refuses a notification webhook's URL that is not an absolute http
// or https URL with a host, or that holds a user's password or a control character.
func CheckWebhookURL(s string) error {
	if err := CheckText("webhook URL", s); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("webhook URL %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook URL %q: want an http:// or https:// URL with a host", s)
	}
	if u.User != nil {
		return fmt.Errorf("webhook URL %q: no user or password in it (the webhook's secret signs the body)", s)
	}
	return nil
}
