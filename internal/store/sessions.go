package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SessionLimits bound a console session's life, judged by the store's clock
// (Options.Now): a session is over once it has not been used for Idle, and once it
// is MaxAge old, whichever comes first.
type SessionLimits struct {
	Idle, MaxAge time.Duration
}

func (l SessionLimits) valid() error {
	if l.Idle <= 0 || l.MaxAge <= 0 {
		return fmt.Errorf("session limits %+v: both must be positive", l)
	}
	return nil
}

// sessionTouch is how stale a session's last use may be before a lookup records it
// anew: the idle time is judged to within it, and a page view writes at most once a
// minute.
const sessionTouch = time.Minute

// Sessions stores the web console's sessions. A session is known by the SHA-256 of
// its random id (the id itself, in the browser's cookie, is never stored). Removing a
// user (DeleteUser) or replacing its token (SetUserToken) ends its sessions.
type Sessions interface {
	// CreateSession stores a new session of the user name, known by idHash;
	// ErrNotFound if there is no such user. Sessions over by lim are removed.
	CreateSession(ctx context.Context, idHash []byte, name string, lim SessionLimits) error
	// SessionUser returns the user of the session known by idHash and records its use;
	// ErrNotFound when there is none, or when it is over by lim (it is then removed).
	SessionUser(ctx context.Context, idHash []byte, lim SessionLimits) (User, error)
	// DeleteSession ends a session (sign-out); ending one that is not there is no
	// error.
	DeleteSession(ctx context.Context, idHash []byte) error
}

var errNoSession = fmt.Errorf("console session: %w", ErrNotFound)

// CreateSession implements Sessions.
func (s *sqlStore) CreateSession(ctx context.Context, idHash []byte, name string, lim SessionLimits) error {
	if err := lim.valid(); err != nil {
		return err
	}
	if len(idHash) == 0 {
		return errors.New("console session: no id hash")
	}
	now := s.opts.now()
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE created_at < ? OR seen_at < ?`,
			micros(now.Add(-lim.MaxAge)), micros(now.Add(-lim.Idle))); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("user %s: %w", name, ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO console_sessions (id_hash, user_name, created_at, seen_at) VALUES (?, ?, ?, ?)`,
			idHash, name, micros(now), micros(now))
		return err
	})
}

// SessionUser implements Sessions.
func (s *sqlStore) SessionUser(ctx context.Context, idHash []byte, lim SessionLimits) (User, error) {
	if err := lim.valid(); err != nil {
		return User{}, err
	}
	var created, seen int64
	u, err := scanUserAnd(s.queryRow(ctx, `SELECT u.name, u.role, u.sites, u.token_hash, u.created_at, s.created_at, s.seen_at
FROM console_sessions s JOIN users u ON u.name = s.user_name WHERE s.id_hash = ?`, idHash), &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, errNoSession
	}
	if err != nil {
		return User{}, err
	}
	now := s.opts.now()
	switch {
	case now.Sub(fromMicros(created)) >= lim.MaxAge || now.Sub(fromMicros(seen)) >= lim.Idle:
		if err := s.DeleteSession(ctx, idHash); err != nil {
			return User{}, err
		}
		return User{}, errNoSession
	case now.Sub(fromMicros(seen)) >= sessionTouch:
		if err := s.write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE console_sessions SET seen_at = ? WHERE id_hash = ?`, micros(now), idHash)
			return err
		}); err != nil {
			return User{}, err
		}
	}
	return u, nil
}

// DeleteSession implements Sessions.
func (s *sqlStore) DeleteSession(ctx context.Context, idHash []byte) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash = ?`, idHash)
		return err
	})
}

// deleteSessionsOf ends every session of the user name, in tx.
func deleteSessionsOf(ctx context.Context, tx *sql.Tx, name string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE user_name = ?`, name)
	return err
}
