// Package command implements the integration commands of vtsoar (check-file-reputation,
// get-url-reports, detonate-files, ...) over the vt client: one registry of commands,
// one file per command family, and an executor that parses and de-duplicates inputs,
// consults the cache, runs inputs concurrently and returns the result envelope.
//
// The executor sends one request per distinct object: inputs are canonicalised with
// ioc, inputs naming the same object share one fetch, and a file answered by its sha256
// also answers later inputs giving its md5 or sha1 (sha256 inputs are fetched first,
// then sha1, then md5 ones, each looked up among the files already fetched).
//
// Errors about a single input (invalid, not found, quota spent, server down) never
// abort the others: they become entries of the envelope's errors, with VirusTotal's
// status and code and the integration's message. Run returns an error only for a
// malformed request (*RequestError).
package command

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/vtsoar/vtsoar/ioc"
)

// Option names a command accepts beyond its inputs (CLI flags and Request fields).
const (
	OptRelationship    = "relationship"
	OptLimit           = "limit"
	OptDescriptorsOnly = "descriptors-only"
	OptNoSubmit        = "no-submit"
	OptRescan          = "rescan"
	OptWait            = "wait"
	OptPollInterval    = "poll-interval"
	OptTimeout         = "timeout"
	OptOutDir          = "out-dir"
	OptWidgetColors    = "widget-colors"
	OptExtract         = "extract"
	OptIncludePrivate  = "include-private"
	OptIncludeBenign   = "include-benign"
	OptComment         = "comment"
	OptVerdict         = "verdict"
	OptMaxSize         = "max-size"
)

// Command describes one integration command.
type Command struct {
	// Name is the CLI and REST name ("check-file-reputation").
	Name string
	// Title is the integration's title ("Check File Reputation"); failures say
	// "<Title> failed.".
	Title string
	// Kind is the kind of observable the inputs must be; empty when any kind (or a
	// path, or nothing) is taken.
	Kind ioc.Kind
	// Group is the command family ("reputation", "reports", "relationships",
	// "behavior", "detonate", "scan", "search", "widget", "connection").
	Group string
	// Short is a one-line description in the CLI's words (Summary gives it for a
	// door), Long the full one (with the premium-only relationships for relationship
	// commands).
	Short, Long string
	// Options are the options the command takes (Opt* names).
	Options []string
	// NoInputs is set for commands that take no inputs (test-connection).
	NoInputs bool
	// InputHelp names what an input is ("HASH", "URL", "PATH"...).
	InputHelp string

	// prepare, when set, turns the request's inputs into those the run answers,
	// and says which it leaves out and why (lookup: extraction and scope).
	prepare func(r *run, inputs []string) ([]string, []SkippedInput)
	// plan parses one input into a task, or rejects it.
	plan func(r *run, input string) (task, *Failure)
	// exec does a task.
	exec func(ctx context.Context, r *run, t task) outcome
	// keyFields derives key_fields from the per-input results in input order.
	keyFields func(rs []Result) map[string]any
	// hasRisk: the command yields risk levels (error entries say N/A).
	hasRisk bool
	// noun is the object's name in messages ("File", "IP", "URL", "Domain").
	noun string
	// invalid is the message of a rejected input ("Invalid Hash.").
	invalid string
	// premium: the command needs a premium key; on a public budget (Deps.PublicKey)
	// it is refused before anything is sent.
	premium bool
	// check, when set, validates the request's options for the command (beyond
	// which options it takes).
	check func(req Request) error
	// summary, when set, is the one-line description of a command whose words name
	// its options or how its results are kept, per door; Short is its CLI's.
	summary func(d Door) string
}

// Summary is the command's one-line description in the words of door d.
func (c *Command) Summary(d Door) string {
	if c.summary != nil {
		return c.summary(d)
	}
	return c.Short
}

// Takes reports whether the command accepts option opt.
func (c *Command) Takes(opt string) bool { return slices.Contains(c.Options, opt) }

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

// registry is newRegistry's list, made on first use: the commands' run functions look
// commands up (Lookup), so the list cannot be a package variable's initial value.
var (
	registryOnce sync.Once
	registry     []*Command
)

func commands() []*Command {
	registryOnce.Do(func() {
		registry = newRegistry()
		for _, c := range registry {
			if c.summary != nil {
				c.Short = c.summary(CLI)
			}
		}
	})
	return registry
}

// All returns every command, in the order of DESIGN.md.
func All() []*Command { return slices.Clone(commands()) }

// Lookup finds a command by name (case-insensitive; "_" taken for "-").
func Lookup(name string) (*Command, bool) {
	n := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-")
	for _, c := range commands() {
		if c.Name == n {
			return c, true
		}
	}
	return nil, false
}

// kindWords are the integration's words for each kind (ioc.Kinds): its noun ("File
// Not Found.", "Check File Reputation"), its invalid-input message, and what an input
// is called in help texts. What a kind is called in prose is ioc's (Kind.Noun).
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
