package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/ioc"
)

const connColumns = `name, sealed_api_key, server_url, quota, proxy, reputation_checks,
health_check_minutes, sites, users, created_at, updated_at, risk_policy`

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

// policyText is the stored form of a risk policy: ” for the default one.
func policyText(p risk.Policy) (string, error) {
	if p.IsZero() {
		return "", nil
	}
	b, err := json.Marshal(p.Normalized())
	return string(b), err
}

// CreateConnection implements Connections.
func (s *sqliteStore) CreateConnection(ctx context.Context, c Connection) error {
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
		_, err := tx.ExecContext(ctx, `INSERT INTO connections (`+connColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Name, c.SealedAPIKey, c.ServerURL, c.Quota, c.Proxy, jsonList(c.ReputationChecks),
			c.HealthCheckMinutes, jsonList(c.Sites), jsonList(c.Users), now, now, policy)
		return err
	})
}

// UpdateConnection implements Connections.
func (s *sqliteStore) UpdateConnection(ctx context.Context, c Connection) error {
	if err := validConnection(c); err != nil {
		return err
	}
	policy, err := policyText(c.RiskPolicy)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE connections SET sealed_api_key = ?, server_url = ?, quota = ?,
proxy = ?, reputation_checks = ?, health_check_minutes = ?, sites = ?, users = ?, updated_at = ?, risk_policy = ? WHERE name = ?`,
			c.SealedAPIKey, c.ServerURL, c.Quota, c.Proxy, jsonList(c.ReputationChecks), c.HealthCheckMinutes,
			jsonList(c.Sites), jsonList(c.Users), micros(s.opts.now()), policy, c.Name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("connection %s: %w", c.Name, ErrNotFound)
		}
		return nil
	})
}

type rowScanner interface{ Scan(...any) error }

func scanConnection(r rowScanner) (Connection, error) {
	var (
		c                            Connection
		checks, sites, users, policy string
		created, updated             int64
	)
	if err := r.Scan(&c.Name, &c.SealedAPIKey, &c.ServerURL, &c.Quota, &c.Proxy, &checks,
		&c.HealthCheckMinutes, &sites, &users, &created, &updated, &policy); err != nil {
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
	if len(c.Users) == 0 {
		c.Users = nil
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, nil
}

// GetConnection implements Connections.
func (s *sqliteStore) GetConnection(ctx context.Context, name string) (Connection, error) {
	c, err := scanConnection(s.queryRow(ctx, `SELECT `+connColumns+` FROM connections WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Connection{}, fmt.Errorf("connection %s: %w", name, ErrNotFound)
	}
	return c, err
}

// ListConnections implements Connections.
func (s *sqliteStore) ListConnections(ctx context.Context) ([]Connection, error) {
	return queryAll(ctx, s.db, scanConnection, `SELECT `+connColumns+` FROM connections ORDER BY name`)
}

// DeleteConnection implements Connections.
func (s *sqliteStore) DeleteConnection(ctx context.Context, name string) error {
	return s.deleteNamed(ctx, "connections", "connection", name)
}
