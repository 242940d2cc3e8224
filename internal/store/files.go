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

// fileSourceLabels are the integration's labels of the file sources.
var fileSourceLabels = map[string]string{
	FileSourceIncident: "Incident Attachment File",
	FileSourcePlaybook: "Playbook File",
	FileSourceArtifact: "Artifact File",
}

// FileSources returns the file sources, in the integration's order.
func FileSources() []string {
	return []string{FileSourceIncident, FileSourcePlaybook, FileSourceArtifact}
}

// FileSourceLabel is the integration's label of a file source ("Incident Attachment
// File"), or src itself when it is none.
func FileSourceLabel(src string) string {
	if l, ok := fileSourceLabels[src]; ok {
		return l
	}
	return src
}

// ParseFileSource reads a file source as every door takes it: its name (incident,
// playbook, artifact) or the integration's label ("Incident Attachment File",
// "Playbook File", "Artifact File"), in any case, around spaces trimmed.
func ParseFileSource(s string) (string, error) {
	t := strings.TrimSpace(s)
	for _, src := range FileSources() {
		if strings.EqualFold(t, src) || strings.EqualFold(t, fileSourceLabels[src]) {
			return src, nil
		}
	}
	if err := CheckText("file source", s); err != nil {
		return "", err
	}
	return "", fmt.Errorf("file source %q is not incident, playbook or artifact (or %q, %q, %q)", s,
		fileSourceLabels[FileSourceIncident], fileSourceLabels[FileSourcePlaybook], fileSourceLabels[FileSourceArtifact])
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
	// Source is FileSourceIncident, FileSourcePlaybook or FileSourceArtifact: how the
	// file came in.
	Source string
	// Site is the site the file belongs to.
	Site string
	// Uploader is the name of the user who uploaded it.
	Uploader string
	// IncidentID is the incident the file is attached to, of the same site, with
	// Source FileSourceIncident ("": none).
	IncidentID string
	// Artifact is true when an event's artifact was posted as this file (set by
	// reads): the file is then an artifact file whatever its Source.
	Artifact bool
	// CreatedAt is set by the store.
	CreatedAt time.Time
}

// InSource reports whether f is a file of source src: one uploaded with that source,
// and, for FileSourceArtifact, also one an event's artifact was posted as.
func (f StoredFile) InSource(src string) bool {
	return f.Source == src || (src == FileSourceArtifact && f.Artifact)
}

// FileView is a file as the REST API and the console show it.
type FileView struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Name   string `json:"name"`
	Source string `json:"source"`
	Site   string `json:"site"`
	// IncidentID is the incident the file is attached to.
	IncidentID string `json:"incident_id,omitempty"`
	// Artifact: an event's artifact was posted as the file, which makes it an
	// artifact file whatever its source.
	Artifact  bool      `json:"artifact,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// View returns the file as it is shown.
func (f StoredFile) View() FileView {
	return FileView{ID: f.ID, SHA256: f.SHA256, Size: f.Size, Name: f.Name, Source: f.Source, Site: f.Site,
		IncidentID: f.IncidentID, Artifact: f.Artifact, CreatedAt: f.CreatedAt}
}

// Cursor is the file's position in a list (Page.After).
func (f StoredFile) Cursor() Cursor { return Cursor{CreatedAt: f.CreatedAt, ID: f.ID} }

// FileFilter selects the files of a list.
type FileFilter struct {
	// Sites are the sites whose files are listed (nil: every site; empty: none).
	Sites []string
	// Source, when set, lists only the files of that source (StoredFile.InSource).
	Source string
	// Incident, when set, lists only the files attached to that incident.
	Incident string
}

// Files stores the metadata of uploaded files.
type Files interface {
	// CreateFile records an uploaded file; ErrExists if the id is taken. A file
	// attached to an incident has the incident's site and source incident (an error
	// wrapping ErrNotFound if there is no such incident).
	CreateFile(ctx context.Context, f StoredFile) error
	// GetFile returns a file's record; ErrNotFound if there is none.
	GetFile(ctx context.Context, id string) (StoredFile, error)
	// ListFiles returns a page of the files that f selects, newest first.
	ListFiles(ctx context.Context, f FileFilter, p Page) ([]StoredFile, error)
}

const fileColumns = `id, sha256, size, name, source, site, uploader, incident_id, created_at`

// fileArtifact is the column, after fileColumns, of whether an event's artifact was
// posted as the file.
const fileArtifact = `EXISTS (SELECT 1 FROM event_artifacts a WHERE a.file_id = files.id)`

// CreateFile implements Files.
func (s *sqlStore) CreateFile(ctx context.Context, f StoredFile) error {
	if strings.TrimSpace(f.ID) == "" || len(f.SHA256) != 64 {
		return errors.New("file record needs an id and a sha256")
	}
	if !slices.Contains(FileSources(), f.Source) {
		return fmt.Errorf("file %s: source %q is not incident, playbook or artifact", f.ID, f.Source)
	}
	if f.IncidentID != "" && f.Source != FileSourceIncident {
		return fmt.Errorf("file %s: an attachment of incident %s has source incident, not %q", f.ID, f.IncidentID, f.Source)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM files WHERE id = ?`, f.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("file %s: %w", f.ID, ErrExists)
		}
		if f.IncidentID != "" {
			if err := checkIncidentSite(ctx, tx, f.IncidentID, f.Site, "file "+f.ID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO files (`+fileColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.SHA256, f.Size, f.Name, f.Source, f.Site, f.Uploader, f.IncidentID, micros(s.opts.now()))
		return err
	})
}

func scanFile(r rowScanner) (StoredFile, error) {
	var (
		f       StoredFile
		created int64
	)
	if err := r.Scan(&f.ID, &f.SHA256, &f.Size, &f.Name, &f.Source, &f.Site, &f.Uploader, &f.IncidentID, &created,
		&f.Artifact); err != nil {
		return StoredFile{}, err
	}
	f.CreatedAt = fromMicros(created)
	return f, nil
}

// GetFile implements Files.
func (s *sqlStore) GetFile(ctx context.Context, id string) (StoredFile, error) {
	f, err := scanFile(s.queryRow(ctx, `SELECT `+fileColumns+`, `+fileArtifact+` FROM files WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return StoredFile{}, fmt.Errorf("file %s: %w", id, ErrNotFound)
	}
	return f, err
}

// ListFiles implements Files.
func (s *sqlStore) ListFiles(ctx context.Context, f FileFilter, p Page) ([]StoredFile, error) {
	where, args, ok := sitesIn(f.Sites, nil, nil)
	if !ok {
		return nil, nil
	}
	switch f.Source {
	case "":
	case FileSourceArtifact: // as StoredFile.InSource
		where, args = append(where, `(source = ? OR `+fileArtifact+`)`), append(args, f.Source)
	default:
		where, args = append(where, `source = ?`), append(args, f.Source)
	}
	if f.Incident != "" {
		where, args = append(where, `incident_id = ?`), append(args, f.Incident)
	}
	q, args := pageQuery(p, where, args)
	return queryAll(ctx, s.db, scanFile, `SELECT `+fileColumns+`, `+fileArtifact+` FROM files`+q, args...)
}
