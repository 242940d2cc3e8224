package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// widgetCommands returns retrieve-widget-html-content (see registry.go).
func widgetCommands() []*Command {
	return []*Command{{
		Name:  "retrieve-widget-html-content",
		Title: "Retrieve Widget HTML Content",
		Group: "widget",
		summary: func(d Door) string {
			if d == REST {
				return "VirusTotal widget HTML of each observable, in its context entry's html and kept as a playbook file"
			}
			return "VirusTotal widget HTML of each observable, written to --out-dir"
		},
		Long: `Retrieves VirusTotal's widget (a small HTML report) of each observable: a file hash,
URL, domain or IP address. Each widget is written as a file in --out-dir, named after the
observable's type and id; context_data gives its path, the widget URL and the detection
ratio. Over REST the HTML is in each entry's html and kept in the service's file store as
a playbook file (key_fields.FileIDs). The widget colours can be set with --fg1, --bg1,
--bg2 and --bd1 (hex, no '#').`,
		InputHelp:   "OBSERVABLE",
		WritesFiles: true,
		newOptions:  func() Options { return &WidgetOptions{} },
		plan: func(r *run, input string) (task, *Failure) {
			o, err := ioc.Parse(input)
			if err != nil {
				return task{}, r.invalidInput(err.Error())
			}
			return task{key: objectKey(o), obs: o, text: widgetQuery(o)}, nil
		},
		exec:      execWidget,
		newFields: func() Fields { return &WidgetFields{} },
		keyFields: func(rs []Result) map[string]any {
			return map[string]any{
				"Paths": perInput(rs, func(f *WidgetFields) (string, bool) {
					if f.WrittenFile == nil {
						return "", false
					}
					return f.Path, true
				}),
				"DetectionRatios": perInput(rs, func(f *WidgetFields) (string, bool) {
					if f.Widget == nil {
						return "", false
					}
					return f.DetectionRatio, true
				}),
				"FileIDs": fileIDs(rs),
			}
		},
	}}
}

// WidgetFields are the fields of retrieve-widget-html-content's entries: the widget
// and its detection ratio, and its HTML or the file it was written to.
type WidgetFields struct {
	*Widget
	// HTML is the widget's page, when no directory was given (over REST).
	HTML *string `json:"html,omitempty"`
	// FileID is the file Deps.Keep kept the page as (over REST).
	FileID string `json:"file_id,omitempty"`
	// WrittenFile is the file the widget's page was written to.
	*WrittenFile
}

// keptFile implements keptFiles.
func (f *WidgetFields) keptFile() string { return f.FileID }

// Widget is a widget VirusTotal made for an object.
type Widget struct {
	DetectionRatio string `json:"detection_ratio"`
	Detections     int    `json:"detections"`
	Engines        int    `json:"engines"`
	WidgetURL      string `json:"widget_url"`
}

// WrittenFile is a file a command wrote.
type WrittenFile struct {
	Path  string `json:"path"`
	Bytes int    `json:"bytes"`
}

func (*WidgetFields) fields() {}

// WidgetOptions are the options of retrieve-widget-html-content.
type WidgetOptions struct {
	// OutDir is where the widget files are written; empty (over REST) returns the
	// HTML in context_data ("html") instead.
	OutDir string
	// Colors are the widget's colours.
	Colors WidgetColors
}

// Fields implements Options.
func (o *WidgetOptions) Fields() []Field {
	return []Field{
		{Name: "out-dir", Usage: "directory the widget files are written to", CLIOnly: "the widget HTML is returned in context_data",
			CLIDefault: ".", Value: &o.OutDir},
		{Name: "widget-colors", Usage: "the widget's colours (hex, no '#')", Members: []Field{
			{Name: "fg1", Usage: "widget text colour (hex, no '#')", Value: &o.Colors.FG1},
			{Name: "bg1", Usage: "widget background colour", Value: &o.Colors.BG1},
			{Name: "bg2", Usage: "widget secondary background colour", Value: &o.Colors.BG2},
			{Name: "bd1", Usage: "widget border colour", Value: &o.Colors.BD1},
		}},
	}
}

// Validate implements Options.
func (o *WidgetOptions) Validate() error { return nil }

func widgetQuery(o ioc.Observable) string {
	if o.Kind == ioc.KindURL && o.Value != "" {
		return o.Value
	}
	return o.ID
}

// widgetFileName is a file name safe on every system for the widget of o.
func widgetFileName(o ioc.Observable) string {
	id := o.ID
	if o.Kind == ioc.KindURL && o.Value != "" {
		id = ioc.URLSHA256ID(o.Value)
	}
	var b strings.Builder
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), ".")
	if name == "" || len(name) > 100 {
		sum := sha256.Sum256([]byte(id))
		name = hex.EncodeToString(sum[:])
	}
	return fmt.Sprintf("vt-widget-%s-%s.html", o.Kind, name)
}

func execWidget(ctx context.Context, r *run, t task) outcome {
	entry := ContextEntry{Type: string(t.obs.Kind), ID: t.obs.ID}
	wo := options[*WidgetOptions](r)
	c := wo.Colors
	// One rule for an object VirusTotal does not know, whether it answers 404 or a
	// widget saying so: the words of the observable's kind ("Domain Not Found.").
	fail := func(err error) *Failure { return kindFailure(t.obs.Kind, err) }
	w, err := r.d.Client.GetWidgetURL(ctx, t.text, vt.WidgetOptions{FG1: c.FG1, BG1: c.BG1, BG2: c.BG2, BD1: c.BD1})
	if err != nil {
		return outcome{entry: entry, fail: fail(err)}
	}
	if w.Found != nil && !*w.Found {
		return outcome{entry: entry, fail: fail(&vt.Error{StatusCode: 404, Code: vt.CodeNotFound})}
	}
	if w.ID != "" {
		entry.ID = w.ID
	}
	f := &WidgetFields{Widget: &Widget{DetectionRatio: fmt.Sprintf("%d/%d", w.DetectionRatio.Detections, w.DetectionRatio.Total),
		Detections: w.DetectionRatio.Detections, Engines: w.DetectionRatio.Total, WidgetURL: w.URL}}
	entry.Fields = f
	html, err := r.d.Client.GetWidgetHTML(ctx, w.URL)
	if err != nil {
		return outcome{entry: entry, fail: fail(err)}
	}
	if wo.OutDir == "" {
		f.HTML = ptr(string(html))
		if r.d.Keep != nil {
			id, err := r.d.Keep.Keep(ctx, func(w io.Writer) (string, error) {
				_, err := w.Write(html)
				return widgetFileName(t.obs), err
			})
			if err != nil {
				return outcome{entry: entry, fail: keepFailure(err)}
			}
			f.FileID = id
		}
	} else {
		path := filepath.Join(wo.OutDir, widgetFileName(t.obs))
		if err := writeFileAtomic(path, html); err != nil {
			return outcome{entry: entry, fail: &Failure{StatusCode: 0, Code: "LocalFileError", Message: fmt.Sprintf("cannot write the widget: %v", err)}}
		}
		f.WrittenFile = &WrittenFile{Path: path, Bytes: len(html)}
	}
	raw := w.Raw
	if len(raw) == 0 {
		raw, _ = json.Marshal(map[string]any{"data": w})
	}
	return outcome{entry: entry, raw: raw}
}

// writeFileAtomic writes b to path through a temporary file in the same directory, so a
// reader never sees half a widget.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".widget-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}
