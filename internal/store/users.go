package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Roles of the service's users.
const (
	// RoleAdmin manages connections and users (and may do what an analyst does).
	RoleAdmin = "admin"
	// RoleAnalyst runs commands, posts events and reads the events of its sites.
	RoleAnalyst = "analyst"
)

// AllSites in User.Sites gives a user every site.
const AllSites = "*"

// CleanSites returns a list of sites (of a user or a connection) trimmed and without
// repeats; a name CheckSiteName refuses, or AllSites beside other sites, is an error.
func CleanSites(sites []string) ([]string, error) {
	var out []string
	for _, s := range sites {
		s = strings.TrimSpace(s)
		if err := CheckSiteName(s); err != nil {
			return nil, err
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if slices.Contains(out, AllSites) && len(out) > 1 {
		return nil, errors.New(`"*" (every site) cannot be combined with other sites`)
	}
	return out, nil
}

// CleanUsers returns a list of user names (those allowed to run a connection) trimmed
// and without repeats; a name CheckUserName refuses is an error.
func CleanUsers(users []string) ([]string, error) {
	var out []string
	for _, u := range users {
		u = strings.TrimSpace(u)
		if err := CheckUserName(u); err != nil {
			return nil, err
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// User is a user of the REST API, who authenticates with a bearer token.
type User struct {
	// Name identifies the user (connections list the users who may run them).
	Name string
	// Role is RoleAdmin or RoleAnalyst.
	Role string
	// Sites are the sites (tenants) whose events the user sees; AllSites for all.
	Sites []string
	// TokenHash is the SHA-256 of the user's bearer token; the token itself is never
	// stored.
	TokenHash []byte
	// CreatedAt is set by the store.
	CreatedAt time.Time
}

// SeesAllSites reports whether u sees every site.
func (u User) SeesAllSites() bool { return slices.Contains(u.Sites, AllSites) }

// SeesSite reports whether u may see what belongs to site.
func (u User) SeesSite(site string) bool { return u.SeesAllSites() || slices.Contains(u.Sites, site) }

// MayUse reports why u may not run the connection c, or nil. Admins may run every
// connection; an analyst must be among its users (when it lists any) and share a site
// with it (when it names any).
func (u User) MayUse(c Connection) error {
	if u.Role == RoleAdmin {
		return nil
	}
	if len(c.Users) > 0 && !slices.Contains(c.Users, u.Name) {
		return fmt.Errorf("user %s may not use connection %s", u.Name, c.Name)
	}
	if len(c.Sites) > 0 && !u.SeesAllSites() && !slices.ContainsFunc(c.Sites, func(s string) bool { return slices.Contains(u.Sites, s) }) {
		return fmt.Errorf("connection %s does not serve the sites of user %s", c.Name, u.Name)
	}
	return nil
}

// Users stores the users of the REST API.
type Users interface {
	// CreateUser stores a new user; ErrExists if the name or the token hash is taken.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns a user; ErrNotFound if there is none.
	GetUser(ctx context.Context, name string) (User, error)
	// UserByTokenHash returns the user whose token hashes to hash; ErrNotFound if none.
	UserByTokenHash(ctx context.Context, hash []byte) (User, error)
	// SetUserToken replaces a user's token hash and ends its console sessions;
	// ErrNotFound if there is no such user.
	SetUserToken(ctx context.Context, name string, hash []byte) error
	// ListUsers returns every user, by name.
	ListUsers(ctx context.Context) ([]User, error)
	// DeleteUser removes a user and ends its console sessions; ErrNotFound if there is
	// none.
	DeleteUser(ctx context.Context, name string) error
}

const userColumns = `name, role, sites, token_hash, created_at`

func validUser(u User) error {
	if strings.TrimSpace(u.Name) == "" {
		return errors.New("user name is empty")
	}
	if u.Role != RoleAdmin && u.Role != RoleAnalyst {
		return fmt.Errorf("user %s: role %q is neither %s nor %s", u.Name, u.Role, RoleAdmin, RoleAnalyst)
	}
	if len(u.TokenHash) == 0 {
		return fmt.Errorf("user %s: no token hash", u.Name)
	}
	return nil
}

// CreateUser implements Users.
func (s *sqlStore) CreateUser(ctx context.Context, u User) error {
	if err := validUser(u); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name = ? OR token_hash = ?`,
			u.Name, u.TokenHash).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("user %s: %w", u.Name, ErrExists)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?)`,
			u.Name, u.Role, jsonList(u.Sites), u.TokenHash, micros(s.opts.now()))
		return err
	})
}

// scanUser reads a row of userColumns.
func scanUser(r rowScanner) (User, error) { return scanUserAnd(r) }

// scanUserAnd reads a row of userColumns, and then into extra the columns after them.
func scanUserAnd(r rowScanner, extra ...any) (User, error) {
	var (
		u       User
		sites   string
		created int64
	)
	if err := r.Scan(append([]any{&u.Name, &u.Role, &sites, &u.TokenHash, &created}, extra...)...); err != nil {
		return User{}, err
	}
	if err := json.Unmarshal([]byte(sites), &u.Sites); err != nil {
		return User{}, fmt.Errorf("user %s: sites: %w", u.Name, err)
	}
	if len(u.Sites) == 0 {
		u.Sites = nil
	}
	u.CreatedAt = fromMicros(created)
	return u, nil
}

// GetUser implements Users.
func (s *sqlStore) GetUser(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	return u, err
}

// UserByTokenHash implements Users.
func (s *sqlStore) UserByTokenHash(ctx context.Context, hash []byte) (User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE token_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("token: %w", ErrNotFound)
	}
	return u, err
}

// SetUserToken implements Users.
func (s *sqlStore) SetUserToken(ctx context.Context, name string, hash []byte) error {
	if len(hash) == 0 {
		return fmt.Errorf("user %s: no token hash", name)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET token_hash = ? WHERE name = ?`, hash, name)
		if err != nil {
			return err
		}
		if err := oneRow(res, "user", name); err != nil {
			return err
		}
		return deleteSessionsOf(ctx, tx, name)
	})
}

// ListUsers implements Users.
func (s *sqlStore) ListUsers(ctx context.Context) ([]User, error) {
	return queryAll(ctx, s.db, scanUser, `SELECT `+userColumns+` FROM users ORDER BY name`)
}

// DeleteUser implements Users.
func (s *sqlStore) DeleteUser(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if err := oneRow(res, "user", name); err != nil {
			return err
		}
		return deleteSessionsOf(ctx, tx, name)
	})
}
