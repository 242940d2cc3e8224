package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

const fileColumns = `id, sha256, size, name, source, site, uploader, created_at`

// CreateFile implements Files.
func (s *sqliteStore) CreateFile(ctx context.Context, f StoredFile) error {
	if strings.TrimSpace(f.ID) == "" || len(f.SHA256) != 64 {
		return errors.New("file record needs an id and a sha256")
	}
	switch f.Source {
	case FileSourceIncident, FileSourcePlaybook, FileSourceArtifact:
	default:
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
func (s *sqliteStore) GetFile(ctx context.Context, id string) (StoredFile, error) {
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
