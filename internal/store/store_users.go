package store

import (
	"context"
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

// Users stores the users of the REST API.
type Users interface {
	// CreateUser stores a new user; ErrExists if the name or the token hash is taken.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns a user; ErrNotFound if there is none.
	GetUser(ctx context.Context, name string) (User, error)
	// UserByTokenHash returns the user whose token hashes to hash; ErrNotFound if none.
	UserByTokenHash(ctx context.Context, hash []byte) (User, error)
	// SetUserToken replaces a user's token hash; ErrNotFound if there is no such user.
	SetUserToken(ctx context.Context, name string, hash []byte) error
	// ListUsers returns every user, by name.
	ListUsers(ctx context.Context) ([]User, error)
	// DeleteUser removes a user; ErrNotFound if there is none.
	DeleteUser(ctx context.Context, name string) error
}

// File sources: where a file given to detonate-files comes from, as the integration
// names them.
const (
	FileSourceIncident = "incident"
	FileSourcePlaybook = "playbook"
	FileSourceArtifact = "artifact"
)

// StoredFile describes a file uploaded to the service. Its content lives outside the
// database, addressed by its SHA-256.
type StoredFile struct {
	// ID identifies the upload (the id detonate-files takes).
	ID string
	// SHA256 is the lower-case hex SHA-256 of the content.
	SHA256 string
	// Size is the content's length in bytes.
	Size int64
	// Name is the file name the uploader gave.
	Name string
	// Source is FileSourceIncident, FileSourcePlaybook or FileSourceArtifact.
	Source string
	// Site is the site the file belongs to.
	Site string
	// Uploader is the name of the user who uploaded it.
	Uploader string
	// CreatedAt is set by the store.
	CreatedAt time.Time
}

// Files stores the metadata of uploaded files.
type Files interface {
	// CreateFile records an uploaded file; ErrExists if the id is taken.
	CreateFile(ctx context.Context, f StoredFile) error
	// GetFile returns a file's record; ErrNotFound if there is none.
	GetFile(ctx context.Context, id string) (StoredFile, error)
}
