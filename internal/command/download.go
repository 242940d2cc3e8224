package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
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
				return "Download files from VirusTotal (premium keys; the CLI only: it writes them to a local directory)"
			}
			return "Download files from VirusTotal into --out-dir (premium keys)"
		},
		Long: `Downloads each file (by md5, sha1 or sha256) from VirusTotal into --out-dir, named by its
sha256, readable by its owner only; the bytes are checked against the hash given. A file
larger than --max-size is not kept. Premium-only: on a public budget (the default) nothing
is sent and the command is refused (exit 2); a key VirusTotal refuses is an error per
input. key_fields.Paths gives where each file went.

The files are samples VirusTotal holds: treat them as live malware.`,
		InputHelp:   "HASH",
		Premium:     true,
		WritesFiles: true,
		CLIOnly:     "download-file writes live samples to a local directory: run it from the CLI (vtsoar download-file --out-dir DIR HASH...)",
		newOptions:  func() Options { return &DownloadOptions{MaxSize: DefaultMaxSize} },
		plan:        objectTask,
		exec:        execDownload,
		newFields:   func() Fields { return &DownloadFields{} },
		keyFields: func(rs []Result) map[string]any {
			return map[string]any{"Paths": perInput(rs, func(f *DownloadFields) (string, bool) { return f.Path, true })}
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
			CLIOnly: "the samples are written to a local directory", Value: &o.OutDir},
		{Name: "max-size", Usage: "largest file kept, in bytes", Positive: true, Value: &o.MaxSize},
	}
}

// Validate implements Options: there is a directory to write to.
func (o *DownloadOptions) Validate() error {
	if o.OutDir == "" {
		return refused(nil, func(d Door) string {
			return fmt.Sprintf("download-file needs a directory to write the files to (%s)", d.OptionValue("out-dir", "DIR"))
		})
	}
	return nil
}

// DownloadFields are the fields of download-file's entries: where the file went, its
// size and its sha256.
type DownloadFields struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

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
	dir, max := o.OutDir, o.MaxSize
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return outcome{entry: entry, fail: &Failure{Code: "LocalFileError", Message: fmt.Sprintf("cannot create %s: %v", dir, err)}}
	}
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return outcome{entry: entry, fail: &Failure{Code: "LocalFileError", Message: fmt.Sprintf("cannot write in %s: %v", dir, err)}}
	}
	defer os.Remove(tmp.Name()) // once renamed, this removes nothing
	var h hash.Hash = sha256.New()
	cw := &capWriter{w: io.MultiWriter(tmp, h), max: max}
	n, err := r.d.Client.DownloadFile(ctx, t.obs.ID, cw)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return outcome{entry: entry, fail: &Failure{StatusCode: 0, Code: "TooLargeError",
				Message: fmt.Sprintf("The file is larger than %d bytes (--max-size); nothing was kept.", max)}}
		}
		var ve *vt.Error
		if errors.As(err, &ve) && (ve.StatusCode == 403 || ve.Code == vt.CodeForbidden) && !ve.NotJSON() {
			return outcome{entry: entry, fail: &Failure{StatusCode: ve.StatusCode, Code: ve.Code,
				Message: "Download File is premium-only: it needs a VirusTotal premium (Enterprise) API key, and this key was refused."}}
		}
		if errors.Is(err, vt.ErrContentMismatch) {
			return outcome{entry: entry, fail: &Failure{StatusCode: 200, Code: "ContentMismatchError",
				Message: "The bytes VirusTotal sent do not have the hash asked for; nothing was kept."}}
		}
		return outcome{entry: entry, fail: r.failure(err)}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	path := filepath.Join(dir, sum)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return outcome{entry: entry, fail: &Failure{Code: "LocalFileError", Message: fmt.Sprintf("cannot keep the file: %v", err)}}
	}
	entry.ID = sum
	entry.Fields = &DownloadFields{Path: path, Size: n, SHA256: sum}
	raw, _ := json.Marshal(map[string]any{"data": map[string]any{"type": "file", "id": sum,
		"attributes": map[string]any{"sha256": sum, "size": n, "requested_as": strings.ToLower(t.obs.ID)}}})
	return outcome{entry: entry, raw: raw}
}
