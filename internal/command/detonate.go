package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// detonateCommands returns detonate-files (see registry.go).
func detonateCommands() []*Command {
	return []*Command{{
		Name:  "detonate-files",
		Title: "Detonate Files",
		Group: "detonate",
		Short: "Upload files for analysis and report their risk level",
		Long: fmt.Sprintf(`Sends each file (a local path) to VirusTotal for analysis and reports its risk level.
A file VirusTotal already knows (looked up by its sha256 first) is not uploaded again:
its report is returned ("uploaded": false) unless --rescan asks for a new analysis.
Otherwise the file is uploaded (through an upload URL above 32 MB), the analysis followed
(--poll-interval, --timeout) and the fresh report returned. Files over %d MB, missing or
unreadable are per-input errors; nothing is sent for them.`, vt.MaxUpload>>20),
		InputHelp:  "PATH",
		TakesFiles: true,
		newOptions: func() Options { return &DetonateOptions{AnalysisOptions: defaultAnalysis()} },
		plan: func(r *run, input string) (task, *Failure) {
			ref := strings.TrimSpace(input)
			if ref == "" {
				return task{}, r.invalidInput("the file path is empty")
			}
			key := "ref:" + ref
			if _, local := r.files().(LocalFiles); local {
				if abs, err := filepath.Abs(ref); err == nil {
					key = "path:" + abs
				}
			}
			return task{key: key, text: ref}, nil
		},
		exec:      execDetonate,
		newFields: func() Fields { return &ObjectFields{} },
		keyFields: func(rs []Result) map[string]any {
			return map[string]any{"RiskLevels": riskLevels(rs), "IDs": ids(rs), "AnalysisIDs": analysisIDs(rs)}
		},
		hasRisk:  true,
		NotFound: "File ID Not Found.",
		Invalid:  "Invalid File.",
	}}
}

// DetonateOptions are the options of detonate-files.
type DetonateOptions struct {
	// Rescan analyses again the files VirusTotal already knows.
	Rescan bool
	AnalysisOptions
}

// Fields implements Options.
func (o *DetonateOptions) Fields() []Field {
	return append([]Field{{Name: "rescan", Usage: "analyse files VirusTotal already knows again", Value: &o.Rescan}}, o.AnalysisOptions.fields()...)
}

// Validate implements Options.
func (o *DetonateOptions) Validate() error { return nil }

func (r *run) files() FileSource {
	if r.d.Files == nil {
		return LocalFiles{}
	}
	return r.d.Files
}

// localFailure describes a file that cannot be sent.
func (r *run) localFailure(ref string, err error) *Failure {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Failure{StatusCode: 404, Code: vt.CodeNotFound, Message: joinMsg(r.cmd.NotFound, r.files().NotFound(ref))}
	case errors.Is(err, fs.ErrPermission):
		return &Failure{StatusCode: 400, Code: vt.CodeInvalidArgument, Message: fmt.Sprintf("Cannot read %s: permission denied.", ref)}
	}
	return &Failure{StatusCode: 400, Code: vt.CodeInvalidArgument, Message: fmt.Sprintf("Cannot read %s: %v.", ref, err)}
}

func execDetonate(ctx context.Context, r *run, t task) outcome {
	entry := ContextEntry{Type: string(ioc.KindFile)}
	f, name, size, err := r.files().Open(ctx, t.text)
	if err != nil {
		return outcome{entry: entry, fail: r.localFailure(t.text, err)}
	}
	if size > vt.MaxUpload {
		f.Close()
		return outcome{entry: entry, fail: &Failure{StatusCode: 400, Code: vt.CodeInvalidArgument,
			Message: fmt.Sprintf("%s is %d MB; VirusTotal takes files up to %d MB.", t.text, size>>20, vt.MaxUpload>>20)}}
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return outcome{entry: entry, fail: r.localFailure(t.text, err)}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	entry.ID = sum
	out := r.once(ctx, "file:"+sum, func() outcome { return r.detonate(ctx, t.text, name, size, sum) })
	if out.fail != nil && out.entry.ID == "" {
		out.entry.ID = sum
	}
	// The outcome is shared by the inputs with the same content: each has its own
	// fields, with its file's name.
	fields := *objectFields(&out.entry)
	fields.Name = name
	out.entry.Fields = &fields
	return out
}

// ptr is a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

func (r *run) detonate(ctx context.Context, ref, name string, size int64, sum string) outcome {
	entry := ContextEntry{Type: string(ioc.KindFile), ID: sum}
	obs := ioc.Observable{Kind: ioc.KindFile, Hash: ioc.SHA256, ID: sum, Value: sum, Input: sum}
	var analysis *vt.AnalysisDescriptor
	rescanned := false
	if options[*DetonateOptions](r).Rescan {
		d, err := r.d.Client.RescanFile(ctx, sum)
		switch {
		case err == nil:
			analysis, rescanned = d, true
		case !vt.IsNotFound(err):
			return outcome{entry: entry, fail: r.failure(err)}
		}
	} else {
		obj, err := r.fetchObject(ctx, obs, false)
		if err == nil {
			e := r.baseEntry(obj)
			addIdentity(&e, obj)
			f := objectFields(&e)
			f.Uploaded, f.Known = ptr(false), true
			return outcome{entry: e, raw: obj.raw, aliases: obj.runAliases()}
		}
		if !vt.IsNotFound(err) {
			return outcome{entry: entry, fail: r.failure(err)}
		}
	}
	if analysis == nil {
		f, _, _, err := r.files().Open(ctx, ref)
		if err != nil {
			return outcome{entry: entry, fail: r.localFailure(ref, err)}
		}
		d, err := r.d.Client.UploadFile(ctx, f, name, size)
		f.Close()
		if err != nil {
			return outcome{entry: entry, fail: r.failure(err)}
		}
		analysis = d
	}
	af := objectFields(&entry)
	af.AnalysisID, af.Uploaded, af.Rescanned = analysis.ID, ptr(!rescanned), ptr(rescanned)
	a, f := r.waitAnalysis(ctx, &entry, analysis.ID, "")
	if f != nil {
		return outcome{entry: entry, fail: f}
	}
	obj, err := r.fetchObject(ctx, obs, true)
	if err != nil {
		// The analysis is done but the report is not there yet: the analysis' counts
		// still give a verdict.
		r.log.InfoContext(ctx, "report not available after the analysis; using the analysis", "error", err)
		return analysisOutcome(r, entry, a, ioc.KindFile)
	}
	e := r.baseEntry(obj)
	addIdentity(&e, obj)
	rf := objectFields(&e)
	rf.AnalysisID, rf.Uploaded, rf.Rescanned, rf.AnalysisStatus = af.AnalysisID, af.Uploaded, af.Rescanned, string(a.Status)
	return outcome{entry: e, raw: obj.raw, aliases: obj.runAliases()}
}
