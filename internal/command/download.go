package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// downloadCommands returns download-file (see registry.go).
func downloadCommands() []*Command {
	return []*Command{{
		Name:  "download-file",
		Title: "Download File",
		Kind:  ioc.KindFile,
		Group: "download",
		summary: func(d Door) string {
			if d == REST {
				return "Download files from VirusTotal into the file store, as playbook files (premium keys)"
			}
			return "Download files from VirusTotal into --out-dir (premium keys)"
		},
		Long: `Downloads each file (by md5, sha1 or sha256) from VirusTotal into --out-dir, named by its
sha256, readable by its owner only; the bytes are checked against the hash given. A file
larger than --max-size is not kept. Premium-only: on a public budget (the default) nothing
is sent and the command is refused (exit 2); a key VirusTotal refuses is an error per
input. key_fields.Paths gives where each file went. Over REST the files are kept in the
service's file store as playbook files instead, for detonate-files to take:
key_fields.FileIDs gives their ids.

The files are samples VirusTotal holds: treat them as live malware.`,
		InputHelp:   "HASH",
		Premium:     true,
		WritesFiles: true,
		newOptions:  func() Options { return &DownloadOptions{MaxSize: DefaultMaxSize} },
		plan:        objectTask,
		exec:        execDownload,
		newFields:   func() Fields { return &DownloadFields{} },
		keyFields: func(rs []Result) map[string]any {
			return map[string]any{
				"Paths":   perInput(rs, func(f *DownloadFields) (string, bool) { return f.Path, f.Path != "" }),
				"FileIDs": fileIDs(rs),
			}
		},
	}}
}

// DownloadOptions are the options of download-file.
type DownloadOptions struct {
	// OutDir is where the files are written.
	OutDir string
	// MaxSize bounds each file, in bytes.
	MaxSize int64
}

// Fields implements Options.
func (o *DownloadOptions) Fields() []Field {
	return []Field{
		{Name: "out-dir", Usage: "directory the downloaded files are written to (required: they are live samples)",
			CLIOnly: "the samples are kept in the file store as playbook files", Value: &o.OutDir},
		{Name: "max-size", Usage: "largest file kept, in bytes", Positive: true, Value: &o.MaxSize},
	}
}

// Validate implements Options.
func (o *DownloadOptions) Validate() error { return nil }

// checkDeps implements depsOptions: the files go to a directory, or to a keeper.
func (o *DownloadOptions) checkDeps(d Deps) error {
	if o.OutDir == "" && d.Keep == nil {
		return refused(nil, func(d Door) string {
			return fmt.Sprintf("download-file needs a directory to write the files to (%s)", d.OptionValue("out-dir", "DIR"))
		})
	}
	return nil
}

// DownloadFields are the fields of download-file's entries: where the file went (a
// path, or the id of the file kept by Deps.Keep), its size and its sha256.
type DownloadFields struct {
	Path   string `json:"path,omitempty"`
	FileID string `json:"file_id,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// keptFile implements keptFiles.
func (f *DownloadFields) keptFile() string { return f.FileID }

func (*DownloadFields) fields() {}

// errTooLarge is the error of a download past the size cap.
var errTooLarge = errors.New("larger than the size cap")

// capWriter writes at most max bytes, then fails.
type capWriter struct {
	w   io.Writer
	max int64
	n   int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > c.max {
		return 0, errTooLarge
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func execDownload(ctx context.Context, r *run, t task) outcome {
	entry := ContextEntry{Type: string(ioc.KindFile), ID: t.obs.ID}
	o := options[*DownloadOptions](r)
	var (
		fields *DownloadFields
		fail   *Failure
	)
	if o.OutDir == "" {
		fields, fail = r.downloadKept(ctx, t.obs.ID, o.MaxSize)
	} else {
		fields, fail = r.downloadTo(ctx, t.obs.ID, o.OutDir, o.MaxSize)
	}
	if fail != nil {
		return outcome{entry: entry, fail: fail}
	}
	entry.ID = fields.SHA256
	entry.Fields = fields
	raw, _ := json.Marshal(map[string]any{"data": map[string]any{"type": "file", "id": fields.SHA256,
		"attributes": map[string]any{"sha256": fields.SHA256, "size": fields.Size, "requested_as": strings.ToLower(t.obs.ID)}}})
	return outcome{entry: entry, raw: raw}
}

// download writes the file id to w, at most max bytes, and returns its size and
// sha256.
func (r *run) download(ctx context.Context, id string, w io.Writer, max int64) (int64, string, error) {
	h := sha256.New()
	n, err := r.d.Client.DownloadFile(ctx, id, &capWriter{w: io.MultiWriter(w, h), max: max})
	if err != nil {
		return n, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// downloadTo downloads the file id into dir, named by its sha256.
func (r *run) downloadTo(ctx context.Context, id, dir string, max int64) (*DownloadFields, *Failure) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &Failure{Code: "LocalFileError", Message: fmt.Sprintf("cannot create %s: %v", dir, err)}
	}
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return nil, &Failure{Code: "LocalFileError", Message: fmt.Sprintf("cannot write in %s: %v", dir, err)}
	}
	defer os.Remove(tmp.Name()) // once renamed, this removes nothing
	n, sum, err := r.download(ctx, id, tmp, max)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, r.downloadFailure(err, max)
	}
	path := filepath.Join(dir, sum)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, &Failure{Code: "LocalFileError", Message: fmt.Sprintf("cannot keep the file: %v", err)}
	}
	return &DownloadFields{Path: path, Size: n, SHA256: sum}, nil
}

// downloadKept downloads the file id into Deps.Keep, named by its sha256.
func (r *run) downloadKept(ctx context.Context, id string, max int64) (*DownloadFields, *Failure) {
	f := &DownloadFields{}
	var dlErr error
	fileID, err := r.d.Keep.Keep(ctx, func(w io.Writer) (string, error) {
		f.Size, f.SHA256, dlErr = r.download(ctx, id, keeperWriter{w}, max)
		return f.SHA256, dlErr
	})
	var kerr keeperError
	switch {
	case errors.As(dlErr, &kerr):
		return nil, keepFailure(kerr.err)
	case dlErr != nil:
		return nil, r.downloadFailure(dlErr, max)
	case err != nil:
		return nil, keepFailure(err)
	}
	f.FileID = fileID
	return f, nil
}

// keepFailure is the failure of a file Deps.Keep did not keep.
func keepFailure(err error) *Failure {
	return &Failure{Code: "FileStoreError", Message: fmt.Sprintf("The file could not be kept in the file store: %v.", err)}
}

// keeperWriter is a writer of Deps.Keep, whose errors it marks as the keeper's.
type keeperWriter struct{ w io.Writer }

func (k keeperWriter) Write(p []byte) (int, error) {
	n, err := k.w.Write(p)
	if err != nil {
		err = keeperError{err}
	}
	return n, err
}

// keeperError is an error of a writer of Deps.Keep (its size limit, its disk).
type keeperError struct{ err error }

func (e keeperError) Error() string { return e.err.Error() }
func (e keeperError) Unwrap() error { return e.err }

// downloadFailure is the failure of a download that err ended.
func (r *run) downloadFailure(err error, max int64) *Failure {
	var ve *vt.Error
	switch {
	case errors.Is(err, errTooLarge):
		return &Failure{StatusCode: 0, Code: "TooLargeError",
			Message: fmt.Sprintf("The file is larger than %d bytes (--max-size); nothing was kept.", max)}
	case errors.As(err, &ve) && (ve.StatusCode == 403 || ve.Code == vt.CodeForbidden) && !ve.NotJSON():
		return &Failure{StatusCode: ve.StatusCode, Code: ve.Code,
			Message: "Download File is premium-only: it needs a VirusTotal premium (Enterprise) API key, and this key was refused."}
	case errors.Is(err, vt.ErrContentMismatch):
		return &Failure{StatusCode: 200, Code: "ContentMismatchError",
			Message: "The bytes VirusTotal sent do not have the hash asked for; nothing was kept."}
	}
	return r.failure(err)
}
