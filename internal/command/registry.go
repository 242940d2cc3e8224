// Package command implements the integration commands of vtsoar (check-file-reputation,
// get-url-reports, detonate-files, ...) over the vt client: one registry of commands,
// one file per command family, and an executor that parses and de-duplicates inputs,
// consults the cache, runs inputs concurrently and returns the result envelope.
//
// A command declares its options once, as a struct of its own (Options) whose fields
// (Field) the CLI's flags, the REST body, the OpenAPI schema and the console's form are
// made from, and says what it is to the doors that run it (Command.NoInputs,
// Exportable, TakesFiles, WritesFiles, CLIOnly). A request (Request, typed from the
// CLI or as its JSON form from REST) is looked up and checked once by Prepare; Run
// and Stream take the Prepared value, which is JSON and prepared again from it.
//
// The executor sends one request per distinct object: inputs are canonicalised with
// ioc, inputs naming the same object share one fetch, and a file answered by its sha256
// also answers later inputs giving its md5 or sha1 (sha256 inputs are fetched first,
// then sha1, then md5 ones, each looked up among the files already fetched).
//
// Errors about a single input (invalid, not found, quota spent, server down) never
// abort the others: they become entries of the envelope's errors, with VirusTotal's
// status and code and the integration's message. Prepare returns an error only for a
// malformed request, Run and Stream for a run the target cannot make (a premium-only
// relationship on a public key): a *RequestError.
package command

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/vtsoar/vtsoar/ioc"
)

// Command describes one integration command.
type Command struct {
	// Name is the CLI and REST name ("check-file-reputation").
	Name string
	// Title is the command's title as D3 SOAR's integration names it ("Check File
	// Reputation", "Get Url Reports").
	Title string
	// Kind is the kind of observable the inputs must be; empty when any kind (or a
	// file, or nothing) is taken.
	Kind ioc.Kind
	// Group is the command family ("reputation", "reports", "relationships",
	// "behavior", "detonate", "scan", "search", "widget", "connection").
	Group string
	// Short is a one-line description in the CLI's words (Summary gives it for a
	// door), Long the full one (with the premium-only relationships for relationship
	// commands).
	Short, Long string
	// InputHelp names what an input is ("HASH", "URL", "PATH"...).
	InputHelp string

	// What the command is, for the doors that run it.

	// NoInputs: the command takes no inputs (test-connection); its one entry's input
	// is the server's URL.
	NoInputs bool
	// Premium: the command needs a premium key; on a public budget (Deps.PublicKey)
	// it is refused before anything is sent.
	Premium bool
	// Exportable: the results are VirusTotal's reports of observables with vtsoar's
	// verdicts, which STIX 2.1 and MISP can carry.
	Exportable bool
	// TakesFiles: the inputs are files to send (local paths on the command line, ids
	// of uploaded files over REST, opened through Deps.Files).
	TakesFiles bool
	// WritesFiles: the command makes files of what it gets: on the command line it
	// writes them into a local directory (--out-dir); a run without a directory (over
	// REST) gives them to Deps.Keep, and key_fields.FileIDs names them, one per
	// input.
	WritesFiles bool
	// CLIOnly, when set, says why the command runs from the command line only (the
	// REST API's answer to a request for it).
	CLIOnly string

	// The command's words, as D3 SOAR's integration writes them (playbooks match
	// them): each error entry's failure_indicator, and the head of its message,
	// which vtsoar's detail may follow ("Invalid URLs. <reason>").

	// FailureIndicator is the failure_indicator of a failed input: "<Title> failed."
	// unless the command says otherwise ("Test Connection failed. Failed to check
	// the connector.").
	FailureIndicator string
	// NotFound is the message of an input VirusTotal does not know ("File Not
	// Found.", "File Hash Not Found.", "Not Found.").
	NotFound string
	// Invalid is the message of an input refused ("Invalid Hash.", "Invalid URLs."),
	// followed by the reason.
	Invalid string

	// summary, when set, is the one-line description of a command whose words name
	// its options or how its results are kept, per door; Short is its CLI's.
	summary func(d Door) string
	// newOptions makes the command's options with their defaults (nil: none).
	newOptions func() Options
	// newFields makes an empty value of the command's fields, to decode an entry into
	// (nil: the command adds none).
	newFields func() Fields
	// prepare, when set, turns the request's inputs into those the run answers,
	// and says which it leaves out and why (lookup: extraction and scope).
	prepare func(opts Options, inputs []string) ([]string, []SkippedInput)
	// plan parses one input into a task, or rejects it.
	plan func(r *run, input string) (task, *Failure)
	// exec does a task.
	exec func(ctx context.Context, r *run, t task) outcome
	// keyFields derives key_fields from the per-input results in input order.
	keyFields func(rs []Result) map[string]any
	// hasRisk: the command yields risk levels (error entries say N/A).
	hasRisk bool
}

// Summary is the command's one-line description in the words of door d.
func (c *Command) Summary(d Door) string {
	if c.summary != nil {
		return c.summary(d)
	}
	return c.Short
}

// NewOptions returns the command's options with their defaults: a *NoOptions for a
// command that has none.
func (c *Command) NewOptions() Options {
	if c.newOptions == nil {
		return &NoOptions{}
	}
	return c.newOptions()
}

// NoOptions are the options of a command that takes none.
type NoOptions struct{}

// Fields implements Options.
func (*NoOptions) Fields() []Field { return nil }

// Validate implements Options.
func (*NoOptions) Validate() error { return nil }

// newRegistry returns every command, in the order of DESIGN.md (the order of `vtsoar
// --help` and of the OpenAPI document): the one list of the commands, each family's
// made in its own file.
func newRegistry() []*Command {
	return slices.Concat(
		reputationCommands(),
		lookupCommands(),
		reportCommands(),
		relationshipCommands(),
		behaviorCommands(),
		detonateCommands(),
		scanURLCommands(),
		searchCommands(),
		widgetCommands(),
		connectionCommands(),
		communityCommands(),
		rescanCommands(),
		downloadCommands(),
		quotasCommands(),
	)
}

// Registry is the list of the commands, looked up by name.
type Registry struct {
	list   []*Command
	byName map[string]*Command
	// options are every command's options by JSON name, to tell an option of another
	// command from a member no command takes.
	options map[string]Field
}

// registry is newRegistry's list, made on first use: the commands' run functions look
// commands up, so the list cannot be a package variable's initial value.
var (
	registryOnce sync.Once
	registry     *Registry
)

// Commands returns the registry of every command.
func Commands() *Registry {
	registryOnce.Do(func() {
		r := &Registry{list: newRegistry(), byName: map[string]*Command{}, options: map[string]Field{}}
		for _, c := range r.list {
			if c.summary != nil {
				c.Short = c.summary(CLI)
			}
			if c.FailureIndicator == "" {
				c.FailureIndicator = c.Title + " failed."
			}
			if c.NotFound == "" {
				c.NotFound = kindNotFound(c.Kind)
			}
			if c.Invalid == "" {
				c.Invalid = kindInvalid(c.Kind)
			}
			r.byName[c.Name] = c
			for _, f := range c.NewOptions().Fields() {
				r.options[f.JSONName()] = f
			}
		}
		registry = r
	})
	return registry
}

// All returns every command, in the order of DESIGN.md.
func (r *Registry) All() []*Command { return slices.Clone(r.list) }

// Lookup finds a command by name (case-insensitive; "_" taken for "-").
func (r *Registry) Lookup(name string) (*Command, bool) {
	c, ok := r.byName[canonicalName(name)]
	return c, ok
}

// canonicalName is a command's name as the registry has it: lower case, "-" for "_".
func canonicalName(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-")
}

// All returns every command, in the order of DESIGN.md.
func All() []*Command { return Commands().All() }

// Lookup finds a command by name (case-insensitive; "_" taken for "-").
func Lookup(name string) (*Command, bool) { return Commands().Lookup(name) }

// ReputationCheck returns the reputation check of kind (check-file-reputation for a
// file), nil for a kind that has none.
func ReputationCheck(kind ioc.Kind) *Command {
	c, _ := Lookup("check-" + string(kind) + "-reputation")
	return c
}

// LookupCommand returns lookup, the reputation of any mix of observables.
func LookupCommand() *Command {
	c, _ := Lookup("lookup")
	return c
}

// TestConnection returns test-connection.
func TestConnection() *Command {
	c, _ := Lookup("test-connection")
	return c
}

// kindWords are the integration's words for each kind (ioc.Kinds), which a command's
// words are unless it has its own: its noun ("File Not Found.", "Check File
// Reputation"), its invalid-input message, and what an input is called in help
// texts. What a kind is called in prose is ioc's (Kind.Noun).
var kindWords = map[ioc.Kind]struct{ noun, invalid, input, article string }{
	ioc.KindFile:   {"File", "Invalid Hash.", "HASH", "a"},
	ioc.KindIP:     {"IP", "Invalid IP.", "IP", "an"},
	ioc.KindURL:    {"URL", "Invalid URL.", "URL", "a"},
	ioc.KindDomain: {"Domain", "Invalid Domain.", "DOMAIN", "a"},
}

func kindNoun(k ioc.Kind) string {
	if w, ok := kindWords[k]; ok {
		return w.noun
	}
	return "Object"
}

// kindNotFound is the message of an object of kind k VirusTotal does not know ("File
// Not Found."; "Object Not Found." for no kind).
func kindNotFound(k ioc.Kind) string { return kindNoun(k) + " Not Found." }

// kindInvalid is the message of a refused input of kind k ("Invalid Hash.").
func kindInvalid(k ioc.Kind) string {
	if w, ok := kindWords[k]; ok {
		return w.invalid
	}
	return "Invalid Input."
}

// kindArticle names a kind in prose with its article ("a file hash", "an IP address").
func kindArticle(k ioc.Kind) string {
	if w, ok := kindWords[k]; ok {
		return w.article + " " + k.Noun()
	}
	return "an " + k.Noun()
}

// inputName is what an input of kind is called in help texts.
func inputName(k ioc.Kind) string {
	if w, ok := kindWords[k]; ok {
		return w.input
	}
	return "INPUT"
}
