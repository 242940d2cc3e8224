package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/vt"
)

// Request is a command asked for: its name, its inputs, its own options and the run's.
// The CLI fills in Options and Run from its flags. A REST body, or a run kept as JSON,
// is its JSON form: {"command", "inputs", the command's options by their JSON names,
// "concurrency", "max_age", "fresh"}, whose members UnmarshalJSON keeps for Prepare to
// decode into the command's options. Prepare checks a request once and gives the
// Prepared value that the run entry points (Run, Stream) take.
type Request struct {
	// Command is the command's name (case-insensitive, '_' taken for '-').
	Command string
	// Inputs are the observables (hashes, IPs, URLs, domains, search queries, files
	// for detonate-files). A command that takes no inputs (test-connection) has none.
	Inputs []string
	// Options are the command's own options, made by its NewOptions (nil: its
	// defaults).
	Options Options
	// Run are the options of the run.
	Run RunOptions

	// body holds the members of the JSON form, decoded by Prepare.
	body map[string]json.RawMessage
}

// UnmarshalJSON keeps the members of the request's JSON form for Prepare, which
// decodes them into the command's options and says what is wrong with them.
func (r *Request) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		return errors.New("a request is a JSON object, not null")
	}
	*r = Request{body: m}
	return nil
}

// Take decodes the member name of the request's JSON form into v and removes it, for
// the members that belong to the door that took the request rather than to the
// command (REST's "connection"). It reports whether the member was there.
func (r *Request) Take(name string, v any) (bool, error) {
	raw, ok := r.body[name]
	if !ok {
		return false, nil
	}
	delete(r.body, name)
	if err := json.Unmarshal(raw, v); err != nil {
		return true, requestError(&OptionError{Name: name, Reason: jsonReason(err)})
	}
	return true, nil
}

// RunOptions are the options of any run: the CLI's global flags --concurrency,
// --max-age, --fresh and --include-private, and the members of the same names (with
// '_') of a REST body.
type RunOptions struct {
	// Concurrency is the number of inputs in flight at once (0: DefaultConcurrency).
	Concurrency int
	// MaxAge is how old a cached answer may be (0: DefaultMaxAge).
	MaxAge time.Duration
	// Fresh bypasses the cache (answers are still stored in it).
	Fresh bool
	// IncludePrivate sends private, reserved, loopback, link-local and documentation
	// addresses and names to VirusTotal too (skipped by default).
	IncludePrivate bool
}

// Fields describes the run's options.
func (o *RunOptions) Fields() []Field {
	return []Field{
		{Name: "concurrency", Usage: "inputs in flight at once", NonNegative: true, Max: MaxBodyConcurrency, Value: &o.Concurrency},
		{Name: "max-age", Usage: "use cached answers younger than this", NonNegative: true, Value: &o.MaxAge},
		{Name: "fresh", Usage: "ask VirusTotal even when a cached answer is fresh", Value: &o.Fresh},
		{Name: "include-private", Usage: "send private, reserved, loopback, link-local and documentation addresses and names to VirusTotal too",
			Doc: "send private, reserved, loopback, link-local and documentation addresses and names (and URLs on them) to VirusTotal too; skipped by default", Value: &o.IncludePrivate},
	}
}

// WidgetColors are a widget's colours (hex, without '#').
type WidgetColors struct {
	FG1, BG1, BG2, BD1 string
}

// Defaults of the options.
const (
	DefaultConcurrency  = 4
	DefaultLimit        = 40 // one full VirusTotal page
	DefaultPollInterval = 15 * time.Second
	DefaultTimeout      = 10 * time.Minute
	DefaultMaxAge       = 24 * time.Hour
	// DefaultMaxSize bounds a file download-file writes: 64 MiB.
	DefaultMaxSize int64 = 64 << 20
)

// Bounds of a request's JSON form (a REST body).
const (
	// MaxBodyInputs bounds the inputs of one request.
	MaxBodyInputs = 10000
	// MaxBodyConcurrency bounds the concurrency a request may ask for.
	MaxBodyConcurrency = 16
)

// Deps are what a run needs from its caller.
type Deps struct {
	// Client talks to VirusTotal, already set up with the connection's limiter, proxy
	// and retry policy.
	Client *vt.Client
	// Cache is consulted before every object fetch (nil: a cache for this run only):
	// the connection's, whose tiers its client assembled (connclient).
	Cache cache.Cache
	// Policy derives risk levels (zero value: risk.DefaultPolicy()).
	Policy risk.Policy
	// Files opens the files detonate-files uploads (nil: the local file system).
	Files FileSource
	// Keep keeps the files a command that writes files makes when it has no local
	// directory to write them to (over REST: the file store, as playbook files); nil:
	// download-file needs its directory, and retrieve-widget-html-content's HTML is
	// only in its entry.
	Keep FileKeeper
	// Logger logs what the run does (nil: discard).
	Logger *slog.Logger
	// Now returns the current time (nil: time.Now).
	Now func() time.Time
	// IncludePrivate sends private, reserved, loopback, link-local and documentation
	// addresses and names to VirusTotal, whatever the run's options say (a connection
	// that allows it).
	IncludePrivate bool
	// PublicKey is true when the key is a public one (its budget is VirusTotal's
	// public budget): premium-only relationships are then refused before any request
	// is sent, with a RequestError wrapping ErrPremiumOnly.
	PublicKey bool
	// Admit, when set, is asked before each input (or each group of inputs naming
	// one object) starts: an error leaves it out, failed as the error says, while
	// the inputs already started go on (a background run's job whose time to start
	// inputs is up).
	Admit func() error
}

// FileSource opens the files detonate-files takes as inputs.
type FileSource interface {
	// Open returns the file named by ref with its base name and size. Errors that
	// wrap fs.ErrNotExist or fs.ErrPermission are reported as such.
	Open(ctx context.Context, ref string) (f io.ReadCloser, name string, size int64, err error)
	// NotFound says what is missing when Open's error for ref wraps fs.ErrNotExist,
	// after the command's words ("File ID Not Found."); "" says nothing more.
	NotFound(ref string) string
}

// FileKeeper keeps the files a command makes (Deps.Keep).
type FileKeeper interface {
	// Keep stores what write writes as a new file named by write's answer, and
	// returns its id. Nothing is kept when write fails; a file past the keeper's size
	// limit fails write's writes with an error of the keeper.
	Keep(ctx context.Context, write func(w io.Writer) (name string, err error)) (id string, err error)
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
