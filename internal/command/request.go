package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/vt"
)

// Request is one run of a command over a list of inputs. It is what the REST API takes
// as its body (POST /api/v1/commands/{command}) and what the CLI builds from its flags.
type Request struct {
	// Command is the command's name; the REST API takes it from the path.
	Command string `json:"command,omitempty"`
	// Connection names the stored connection to run on (resolved by the caller into
	// Deps; the executor ignores it).
	Connection string `json:"connection,omitempty"`
	// Inputs are the observables (hashes, IPs, URLs, domains, search queries, local
	// paths for detonate-files). test-connection takes none.
	Inputs []string `json:"inputs"`

	// Relationship is the relationship of get-*-relationships (case-insensitive).
	Relationship string `json:"relationship,omitempty"`
	// Limit bounds the related objects (relationships) or results (search) per input;
	// 0 means DefaultLimit.
	Limit int `json:"limit,omitempty"`
	// DescriptorsOnly lists {type, id} descriptors instead of full related objects.
	DescriptorsOnly bool `json:"descriptors_only,omitempty"`
	// NoSubmit stops get-url-reports from submitting URLs VirusTotal has never seen.
	NoSubmit bool `json:"no_submit,omitempty"`
	// Rescan makes detonate-files analyse files VirusTotal already knows again.
	Rescan bool `json:"rescan,omitempty"`
	// Wait makes scan-url follow the analysis to its verdict.
	Wait bool `json:"wait,omitempty"`
	// PollInterval is the time between polls of an analysis (0: DefaultPollInterval).
	PollInterval Duration `json:"poll_interval,omitempty"`
	// Timeout bounds how long an analysis is followed (0: DefaultTimeout).
	Timeout Duration `json:"timeout,omitempty"`
	// OutDir is where retrieve-widget-html-content writes the widget files; empty
	// returns the HTML in context_data ("html") instead.
	OutDir string `json:"out_dir,omitempty"`
	// WidgetColors are the widget's optional colours (hex without '#').
	WidgetColors WidgetColors `json:"widget_colors,omitzero"`

	// Extract makes lookup search each input for observables (free text: an e-mail,
	// a report, a log) instead of taking each input as one observable.
	Extract bool `json:"extract,omitempty"`
	// IncludePrivate makes lookup look up private, reserved, loopback and
	// documentation addresses and names too (skipped by default).
	IncludePrivate bool `json:"include_private,omitempty"`
	// IncludeBenign makes lookup look up well-known benign domains too (skipped by
	// default).
	IncludeBenign bool `json:"include_benign,omitempty"`

	// Comment is the text add-comment posts on each input (words starting with '#'
	// become its tags).
	Comment string `json:"comment,omitempty"`
	// Verdict is the vote add-vote casts on each input: "harmless" or "malicious".
	Verdict string `json:"verdict,omitempty"`
	// MaxSize bounds each file download-file writes, in bytes (0: DefaultMaxSize).
	MaxSize int64 `json:"max_size,omitempty"`

	// Concurrency is the number of inputs in flight at once (0: DefaultConcurrency).
	Concurrency int `json:"concurrency,omitempty"`
	// MaxAge is how old a cached answer may be (0: DefaultMaxAge).
	MaxAge Duration `json:"max_age,omitempty"`
	// Fresh bypasses the cache (answers are still stored in it).
	Fresh bool `json:"fresh,omitempty"`

	// OnResult, when set, is called once per input as soon as it finishes (in
	// completion order, one call at a time), for streaming output and progress.
	OnResult func(Result) `json:"-"`
	// NoRawData leaves raw_data out of the envelope (every answer is null there) and
	// VirusTotal's answers out of memory once each input is done, for a caller that
	// streams the context entries (OnResult; Result.Raw is then set only for an input
	// whose answer was fetched for it) and keeps only the envelope's summary: its
	// memory then does not grow with the inputs.
	NoRawData bool `json:"-"`
}

// WidgetColors are a widget's colours.
type WidgetColors struct {
	FG1 string `json:"fg1,omitempty"`
	BG1 string `json:"bg1,omitempty"`
	BG2 string `json:"bg2,omitempty"`
	BD1 string `json:"bd1,omitempty"`
}

// Defaults of Request's options.
const (
	DefaultConcurrency  = 4
	DefaultLimit        = 40 // one full VirusTotal page
	DefaultPollInterval = 15 * time.Second
	DefaultTimeout      = 10 * time.Minute
	DefaultMaxAge       = 24 * time.Hour
	// DefaultMaxSize bounds a file download-file writes: 64 MiB.
	DefaultMaxSize int64 = 64 << 20
)

// Duration is a time.Duration that JSON encodes as text ("15s") and decodes from text
// or from a number of seconds.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			if n, err2 := strconv.ParseFloat(s, 64); err2 == nil {
				return d.setSeconds(n)
			}
			return fmt.Errorf("duration %q: want for example \"30s\" or \"5m\"", s)
		}
		*d = Duration(v)
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: want a string like \"30s\" or a number of seconds")
	}
	return d.setSeconds(n)
}

// maxSeconds bounds a duration given in seconds (about 290 years fit in a Duration).
const maxSeconds = 1e9

func (d *Duration) setSeconds(n float64) error {
	if math.IsNaN(n) || n > maxSeconds || n < -maxSeconds {
		return fmt.Errorf("duration of %v seconds is out of range", n)
	}
	*d = Duration(n * float64(time.Second))
	return nil
}

// Deps are what a run needs from its caller.
type Deps struct {
	// Client talks to VirusTotal, already set up with the connection's limiter, proxy
	// and retry policy.
	Client *vt.Client
	// Cache is consulted before every object fetch (nil: a cache for this run only).
	Cache cache.Cache
	// Recent, when set and Cache is a cache.Validator, keeps decoded reports in front
	// of Cache for the process (see Recent).
	Recent *Recent
	// Policy derives risk levels (zero value: risk.DefaultPolicy()).
	Policy risk.Policy
	// Files opens the files detonate-files uploads (nil: the local file system).
	Files FileSource
	// Logger logs what the run does (nil: discard).
	Logger *slog.Logger
	// Now returns the current time (nil: time.Now).
	Now func() time.Time
	// PublicKey is true when the key is a public one (its budget is VirusTotal's
	// public budget): premium-only relationships are then refused before any request
	// is sent, with a RequestError wrapping ErrPremiumOnly.
	PublicKey bool
}

// FileSource opens the files detonate-files takes as inputs.
type FileSource interface {
	// Open returns the file named by ref with its base name and size. Errors that
	// wrap fs.ErrNotExist or fs.ErrPermission are reported as such.
	Open(ctx context.Context, ref string) (f io.ReadCloser, name string, size int64, err error)
	// NotFound is the message of a ref whose Open error wraps fs.ErrNotExist.
	NotFound(ref string) string
}

// LocalFiles opens paths on the local file system.
type LocalFiles struct{}

// Open implements FileSource.
func (LocalFiles) Open(_ context.Context, path string) (io.ReadCloser, string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", 0, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, "", 0, fmt.Errorf("%s is a directory", path)
	}
	return f, fi.Name(), fi.Size(), nil
}

// NotFound implements FileSource.
func (LocalFiles) NotFound(path string) string { return fmt.Sprintf("No such file: %s.", path) }

// RequestError is a malformed request: an unknown command, an option the command does
// not take, a relationship the object type does not have. Nothing was sent. Its
// message names options as the request's door spells them (Message).
type RequestError struct {
	// Err is a sentinel the error wraps (ErrUnknownCommand), or nil.
	Err error
	// say is the message at each door.
	say func(Door) string
}

// Error is the message in the CLI's words.
func (e *RequestError) Error() string { return e.Message(CLI) }

// Message is the message in the words of door d.
func (e *RequestError) Message(d Door) string { return e.say(d) }

// Unwrap returns the wrapped sentinel.
func (e *RequestError) Unwrap() error { return e.Err }

// ErrUnknownCommand is wrapped by the RequestError for a command name that is not in
// the registry.
var ErrUnknownCommand = errors.New("unknown command")

// ErrPremiumOnly is wrapped by the RequestError of a premium-only relationship or
// command asked on a public key (Deps.PublicKey): nothing was sent.
var ErrPremiumOnly = errors.New("premium-only on a public key")

// badRequest is a RequestError whose words are the same at every door.
func badRequest(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &RequestError{say: func(Door) string { return msg }}
}

// refused is a RequestError wrapping err (nil: none) whose words name options, as say
// writes them for each door.
func refused(err error, say func(d Door) string) *RequestError {
	return &RequestError{Err: err, say: say}
}
