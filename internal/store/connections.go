package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/ioc"
)

// Connection is a stored VirusTotal connection: an API key and how to use it.
type Connection struct {
	// Name identifies the connection (--connection NAME).
	Name string
	// SealedAPIKey is the API key sealed by secret.Cipher.Seal; the store never holds
	// the key in clear.
	SealedAPIKey []byte
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
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt, UpdatedAt time.Time
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
	Name               string   `json:"name"`
	APIKeySet          bool     `json:"api_key_set"`
	ServerURL          string   `json:"server_url"`
	Quota              string   `json:"quota"`
	Proxy              string   `json:"proxy"`
	ReputationChecks   []string `json:"reputation_checks"`
	HealthCheckMinutes int      `json:"health_check_minutes"`
	Sites              []string `json:"sites"`
	Users              []string `json:"users"`
	// RiskPolicy is the connection's risk policy with its defaults written out.
	RiskPolicy risk.Policy `json:"risk_policy"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

// View returns the connection as shown: the server URL as used (the default when none
// was given), lists never nil so that JSON shows [].
func (c Connection) View() ConnectionView {
	v := ConnectionView{
		Name: c.Name, APIKeySet: len(c.SealedAPIKey) > 0, ServerURL: NormalizeServerURL(c.ServerURL), Quota: c.Quota,
		Proxy: secret.RedactURL(c.Proxy), HealthCheckMinutes: c.HealthCheckMinutes,
		ReputationChecks: make([]string, 0, len(c.ReputationChecks)),
		Sites:            append([]string{}, c.Sites...), Users: append([]string{}, c.Users...),
		RiskPolicy: c.RiskPolicy.Normalized(), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	for _, k := range c.ReputationChecks {
		v.ReputationChecks = append(v.ReputationChecks, string(k))
	}
	return v
}

const connColumns = `name, sealed_api_key, server_url, quota, proxy, reputation_checks,
health_check_minutes, sites, users, created_at, updated_at, risk_policy, sealed_proxy`

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
	if len(c.SealedAPIKey) == 0 {
		return fmt.Errorf("connection %s: no sealed API key", c.Name)
	}
	if err := c.RiskPolicy.Validate(); err != nil {
		return fmt.Errorf("connection %s: %w", c.Name, err)
	}
	return nil
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
		_, err := tx.ExecContext(ctx, `INSERT INTO connections (`+connColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Name, c.SealedAPIKey, c.ServerURL, c.Quota, c.Proxy, jsonList(c.ReputationChecks),
			c.HealthCheckMinutes, jsonList(c.Sites), jsonList(c.Users), now, now, policy, nilIfEmpty(c.SealedProxy))
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
sealed_proxy = ? WHERE name = ?`,
			c.SealedAPIKey, c.ServerURL, c.Quota, c.Proxy, jsonList(c.ReputationChecks), c.HealthCheckMinutes,
			jsonList(c.Sites), jsonList(c.Users), micros(s.opts.now()), policy, nilIfEmpty(c.SealedProxy), c.Name)
		if err != nil {
			return err
		}
		return oneRow(res, "connection", c.Name)
	})
}

func scanConnection(r rowScanner) (Connection, error) {
	var (
		c                            Connection
		checks, sites, users, policy string
		created, updated             int64
	)
	if err := r.Scan(&c.Name, &c.SealedAPIKey, &c.ServerURL, &c.Quota, &c.Proxy, &checks,
		&c.HealthCheckMinutes, &sites, &users, &created, &updated, &policy, &c.SealedProxy); err != nil {
		return Connection{}, err
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
