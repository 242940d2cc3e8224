package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// File sources: where a file given to detonate-files comes from, as the integration
// names them.
const (
	FileSourceIncident = "incident"
	FileSourcePlaybook = "playbook"
	FileSourceArtifact = "artifact"
)

// FileSources returns the file sources, in the integration's order.
func FileSources() []string {
	return []string{FileSourceIncident, FileSourcePlaybook, FileSourceArtifact}
}

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

const fileColumns = `id, sha256, size, name, source, site, uploader, created_at`

// CreateFile implements Files.
func (s *sqlStore) CreateFile(ctx context.Context, f StoredFile) error {
	if strings.TrimSpace(f.ID) == "" || len(f.SHA256) != 64 {
		return errors.New("file record needs an id and a sha256")
	}
	if !slices.Contains(FileSources(), f.Source) {
		return fmt.Errorf("file %s: source %q is not incident, playbook or artifact", f.ID, f.Source)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM files WHERE id = ?`, f.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("file %s: %w", f.ID, ErrExists)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO files (`+fileColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.SHA256, f.Size, f.Name, f.Source, f.Site, f.Uploader, micros(s.opts.now()))
		return err
	})
}

// GetFile implements Files.
func (s *sqlStore) GetFile(ctx context.Context, id string) (StoredFile, error) {
	var (
		f       StoredFile
		created int64
	)
	err := s.queryRow(ctx, `SELECT `+fileColumns+` FROM files WHERE id = ?`, id).
		Scan(&f.ID, &f.SHA256, &f.Size, &f.Name, &f.Source, &f.Site, &f.Uploader, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return StoredFile{}, fmt.Errorf("file %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return StoredFile{}, err
	}
	f.CreatedAt = fromMicros(created)
	return f, nil
}
