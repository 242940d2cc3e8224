package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// FilesDir is the directory of a service's data directory (serve --data-dir) that
// holds its file store: the REST server and the runs of the background service open
// the same one, and replicas share it.
const FilesDir = "files"

// DefaultMaxFileSize bounds a file the store takes (an upload, a playbook file):
// VirusTotal's largest upload.
const DefaultMaxFileSize = 650 << 20

// FileStore keeps uploaded files: their content on disk, content-addressed
// (DIR/ab/abcdef... by SHA-256, written once and shared by every upload of the same
// bytes), and their records (Files) in the store.
type FileStore struct {
	dir  string
	meta Files
}

// NewFileStore returns the file store whose content lives under dir (made, mode 0700,
// when missing) and whose records are in meta.
func NewFileStore(dir string, meta Files) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("file store: %w", err)
	}
	return &FileStore{dir: dir, meta: meta}, nil
}

func (fs *FileStore) path(sum string) string {
	return filepath.Join(fs.dir, sum[:2], sum)
}

// OpenContent opens the content whose SHA-256 is sum (lower-case hex).
func (fs *FileStore) OpenContent(sum string) (*os.File, error) {
	if len(sum) != 64 {
		return nil, fmt.Errorf("file store: bad sha256 %q", sum)
	}
	return os.Open(fs.path(sum))
}

// TooLargeError is the error of content over the size it may have.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the file is larger than the limit of %d bytes", e.Limit)
}

// Staged is content written to a temporary file of the store, hashed, not yet at its
// address: Commit keeps it, Discard drops it.
type Staged struct {
	// SHA256 and Size are the content's.
	SHA256 string
	Size   int64

	fs  *FileStore
	tmp string
}

// Stage streams r to a temporary file, at most max bytes, hashing it. Content over max
// fails with a *TooLargeError (and an error of r is returned as it is). The caller
// commits or discards it.
func (fs *FileStore) Stage(r io.Reader, max int64) (*Staged, error) {
	return fs.StageFrom(func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	}, max)
}

// StageFrom stages what write writes, as Stage does what it reads: at most max bytes
// (a write past them fails with a *TooLargeError, which write returns); an error of
// write discards what it wrote.
func (fs *FileStore) StageFrom(write func(w io.Writer) error, max int64) (*Staged, error) {
	tmp, err := os.CreateTemp(fs.dir, ".upload-*")
	if err != nil {
		return nil, err
	}
	st := &Staged{fs: fs, tmp: tmp.Name()}
	h := sha256.New()
	lw := &limitWriter{w: io.MultiWriter(tmp, h), max: max}
	err = write(lw)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		st.Discard()
		return nil, err
	}
	st.SHA256, st.Size = hex.EncodeToString(h.Sum(nil)), lw.n
	return st, nil
}

// limitWriter writes at most max bytes to w; a write past them writes nothing and
// fails with a *TooLargeError.
type limitWriter struct {
	w      io.Writer
	max, n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n+int64(len(p)) > l.max {
		return 0, &TooLargeError{Limit: l.max}
	}
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}

// Keep commits staged content and records it as rec (its SHA256 and Size from st),
// and returns the record as stored. Nothing is recorded when the commit fails; the
// content stays at its address when the record fails (another record may share it).
func (fs *FileStore) Keep(ctx context.Context, st *Staged, rec StoredFile) (StoredFile, error) {
	rec.SHA256, rec.Size = st.SHA256, st.Size
	if err := st.Commit(); err != nil {
		return StoredFile{}, err
	}
	if err := fs.meta.CreateFile(ctx, rec); err != nil {
		return StoredFile{}, err
	}
	return fs.meta.GetFile(ctx, rec.ID)
}

// Add stores what write writes (at most max bytes, as StageFrom) as the file rec,
// named by write's answer, and returns the record as stored: the file a command makes
// over REST (a playbook file), written straight to the store.
func (fs *FileStore) Add(ctx context.Context, rec StoredFile, max int64, write func(w io.Writer) (name string, err error)) (StoredFile, error) {
	st, err := fs.StageFrom(func(w io.Writer) error {
		var err error
		rec.Name, err = write(w)
		return err
	}, max)
	if err != nil {
		return StoredFile{}, err
	}
	defer st.Discard()
	return fs.Keep(ctx, st, rec)
}

// Commit moves the staged content to its content address (kept as it is when the same
// content is there already).
func (st *Staged) Commit() error {
	dst := st.fs.path(st.SHA256)
	if _, err := os.Stat(dst); err == nil {
		return st.Discard()
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := os.Rename(st.tmp, dst); err != nil {
		return err
	}
	st.tmp = ""
	return nil
}

// Discard removes the staged content unless it was committed; it does nothing on a
// nil Staged.
func (st *Staged) Discard() error {
	if st == nil || st.tmp == "" {
		return nil
	}
	err := os.Remove(st.tmp)
	st.tmp = ""
	return err
}

// errNoFile is what a FileSource's Open returns for an id it does not see.
var errNoFile = fmt.Errorf("file id not found: %w", fs.ErrNotExist)

// Source returns the stored files for which visible is true (nil: every file), opened
// by their id: the file source of a command that takes files (detonate-files over
// REST), as command.FileSource describes it.
func (fs *FileStore) Source(visible func(StoredFile) bool) *FileSource {
	return &FileSource{fs: fs, visible: visible}
}

// FileSource opens stored files by id (FileStore.Source).
type FileSource struct {
	fs      *FileStore
	visible func(StoredFile) bool
}

// Open returns the content of the file id with its name and size. An id that names no
// file, or one that is not visible, is an error wrapping fs.ErrNotExist.
func (s *FileSource) Open(ctx context.Context, id string) (io.ReadCloser, string, int64, error) {
	meta, err := s.fs.meta.GetFile(ctx, id)
	if err == nil && s.visible != nil && !s.visible(meta) {
		err = ErrNotFound
	}
	if errors.Is(err, ErrNotFound) {
		return nil, "", 0, errNoFile
	}
	if err != nil {
		return nil, "", 0, err
	}
	f, err := s.fs.OpenContent(meta.SHA256)
	if err != nil {
		return nil, "", 0, err
	}
	return f, meta.Name, meta.Size, nil
}

// NotFound implements command.FileSource: an id Open does not find is said to be
// missing by the command's words alone ("File ID Not Found.").
func (s *FileSource) NotFound(string) string { return "" }

// NewFileID returns a new id of a stored file ("f_" and 24 hex digits).
func NewFileID() string {
	var b [12]byte
	rand.Read(b[:])
	return "f_" + hex.EncodeToString(b[:])
}

// Playbook returns the keeper of the files a command makes over REST, synchronously or
// in a run (command.FileKeeper): each kept in fs as a playbook file of site, uploaded
// by user, at most max bytes, and logged to log.
func (fs *FileStore) Playbook(site, user string, max int64, log *slog.Logger) *PlaybookKeeper {
	return &PlaybookKeeper{fs: fs, site: site, user: user, max: max, log: log}
}

// PlaybookKeeper keeps playbook files (FileStore.Playbook).
type PlaybookKeeper struct {
	fs         *FileStore
	site, user string
	max        int64
	log        *slog.Logger
}

// Keep implements command.FileKeeper: what write writes is kept as a new playbook
// file, named by write's answer; Keep returns its id.
func (k *PlaybookKeeper) Keep(ctx context.Context, write func(io.Writer) (string, error)) (string, error) {
	f, err := k.fs.Add(ctx, StoredFile{ID: NewFileID(), Source: FileSourcePlaybook, Site: k.site, Uploader: k.user}, k.max, write)
	if err != nil {
		return "", err
	}
	if k.log != nil {
		k.log.InfoContext(ctx, "playbook file kept", "id", f.ID, "sha256", f.SHA256, "size", f.Size, "site", f.Site)
	}
	return f.ID, nil
}
