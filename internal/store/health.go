package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// HealthCheck is the result of one test of a connection.
type HealthCheck struct {
	Connection string
	At         time.Time
	Healthy    bool
	// StatusCode is the server's HTTP status (0 when no answer came).
	StatusCode int
	// Message says what went wrong (or "ok").
	Message string
	// QuotaLeft is the requests left per quota window as the server reported them.
	QuotaLeft map[string]int64
}

// HealthChecks stores the history of connection health checks.
type HealthChecks interface {
	// RecordHealthCheck stores h and returns the connection's previous check, read in
	// the same transaction (ok false when h is the first), so that of several
	// processes checking one connection each sees one transition at most once. inTx,
	// when not nil, is called within that transaction (tx, as in CreateEvent) with
	// the previous check, to queue notifications that commit together with the check.
	RecordHealthCheck(ctx context.Context, h HealthCheck, inTx func(ctx context.Context, tx *sql.Tx, prev HealthCheck, ok bool) error) (prev HealthCheck, ok bool, err error)
	// HealthHistory returns a connection's checks, newest first, at most limit (<= 0:
	// 100).
	HealthHistory(ctx context.Context, connection string, limit int) ([]HealthCheck, error)
	// LastHealthChecks returns the newest check of every connection that has one.
	LastHealthChecks(ctx context.Context) (map[string]HealthCheck, error)
}

const healthColumns = `connection, at, healthy, status_code, message, quota_left`

func scanHealth(r rowScanner) (HealthCheck, error) {
	var (
		h       HealthCheck
		at      int64
		healthy int
		left    string
	)
	if err := r.Scan(&h.Connection, &at, &healthy, &h.StatusCode, &h.Message, &left); err != nil {
		return HealthCheck{}, err
	}
	h.At, h.Healthy = fromMicros(at), healthy != 0
	if err := json.Unmarshal([]byte(left), &h.QuotaLeft); err != nil {
		return HealthCheck{}, fmt.Errorf("health check of %s: quota_left: %w", h.Connection, err)
	}
	if len(h.QuotaLeft) == 0 {
		h.QuotaLeft = nil
	}
	return h, nil
}

// RecordHealthCheck implements HealthChecks.
func (s *sqlStore) RecordHealthCheck(ctx context.Context, h HealthCheck, inTx func(context.Context, *sql.Tx, HealthCheck, bool) error) (HealthCheck, bool, error) {
	if strings.TrimSpace(h.Connection) == "" {
		return HealthCheck{}, false, errors.New("health check: connection name is empty")
	}
	left, err := json.Marshal(h.QuotaLeft)
	if err != nil {
		return HealthCheck{}, false, err
	}
	if h.QuotaLeft == nil {
		left = []byte("{}")
	}
	var (
		prev HealthCheck
		ok   bool
	)
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		prev, err = scanHealth(tx.QueryRowContext(ctx, `SELECT `+healthColumns+` FROM health_checks
WHERE connection = ? ORDER BY seq DESC LIMIT 1`, h.Connection))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			ok = false
		case err != nil:
			return err
		default:
			ok = true
		}
		healthy := 0
		if h.Healthy {
			healthy = 1
		}
		if _, err = tx.ExecContext(ctx, `INSERT INTO health_checks (`+healthColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			h.Connection, micros(h.At), healthy, h.StatusCode, h.Message, string(left)); err != nil {
			return err
		}
		if inTx != nil {
			return inTx(ctx, tx, prev, ok)
		}
		return nil
	})
	if err != nil {
		return HealthCheck{}, false, err
	}
	return prev, ok, nil
}

// HealthHistory implements HealthChecks.
func (s *sqlStore) HealthHistory(ctx context.Context, connection string, limit int) ([]HealthCheck, error) {
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, s.db, scanHealth, `SELECT `+healthColumns+` FROM health_checks WHERE connection = ?
ORDER BY seq DESC LIMIT ?`, connection, limit)
}

// LastHealthChecks implements HealthChecks.
func (s *sqlStore) LastHealthChecks(ctx context.Context) (map[string]HealthCheck, error) {
	last, err := queryAll(ctx, s.db, scanHealth, `SELECT `+healthColumns+` FROM health_checks
WHERE seq IN (SELECT MAX(seq) FROM health_checks GROUP BY connection)`)
	if err != nil {
		return nil, err
	}
	out := make(map[string]HealthCheck, len(last))
	for _, h := range last {
		out[h.Connection] = h
	}
	return out, nil
}
