package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// lookupCommands returns lookup (see registry.go).
func lookupCommands() []*Command {
	return []*Command{{
		Name:       "lookup",
		Title:      "Lookup",
		Group:      "lookup",
		Short:      "Reputation of any mix of hashes, IPs, URLs and domains, or of those found in free text",
		Long:       lookupLong,
		InputHelp:  "OBSERVABLE",
		Exportable: true,
		newOptions: func() Options { return &LookupOptions{} },
		prepare:    prepareLookup,
		newFields:  func() Fields { return &ObjectFields{} },
		plan:       lookupTask,
		exec:       execLookup,
		keyFields: func(rs []Result) map[string]any {
			kinds := make([]string, len(rs))
			for i, res := range rs {
				kinds[i] = res.Context.Type
			}
			return map[string]any{"RiskLevels": riskLevels(rs), "Kinds": kinds}
		},
		hasRisk: true,
	}}
}

const lookupLong = `Checks the reputation of any mix of file hashes, IP addresses, URLs and domains, each
sent to the reputation check of its kind (check-file-reputation, check-ip-reputation,
check-url-reputation, check-domain-reputation) with the same cache, budget and
de-duplication, and answers one envelope: each input's kind in "type" (and
key_fields.Kinds), its risk level and reason, in input order. A line that is no
observable is an error of its own ("Lookup failed."); the others still run.

With --extract, the inputs are free text (an e-mail, a report, a log): the observables
are found in it, defanged or not (hxxp://, [.], (.), [:], [at]), each once in the order
it first appears, and looked up. E-mail addresses and file names such as setup.py are
left out.

Private, reserved, loopback, link-local and documentation addresses, names reserved for
private or documentation use (.local, .internal, example.com, ...), as for every command,
and well-known benign domains (microsoft.com, ...) are not looked up unless
--include-private or --include-benign says so: each keeps its place with status
"skipped" and the reason, and the envelope's "skipped" lists them. URLs on well-known
domains where anyone publishes (docs.google.com, github.com, dropbox.com, ...) are
always looked up.`

// LookupOptions are the options of lookup. Private addresses and names are the
// run's (RunOptions.IncludePrivate), as for every command.
type LookupOptions struct {
	// Extract takes each input as free text (an e-mail, a report, a log) whose
	// observables are looked up, instead of one observable.
	Extract bool
	// IncludeBenign looks up well-known benign domains too (skipped by default).
	IncludeBenign bool
	// Kinds, when set, are the only kinds of observable looked up, comma-separated
	// ("file,url"); the others found are skipped.
	Kinds string

	kinds []ioc.Kind
}

// Fields implements Options.
func (o *LookupOptions) Fields() []Field {
	return []Field{
		{Name: "extract", Usage: "find the observables in free text (arguments, or all of stdin with -) instead of one per line",
			Doc: "the inputs are free text (an e-mail, a report, a log) whose observables, defanged or not, are looked up, each once", Value: &o.Extract},
		{Name: "include-benign", Usage: "look up well-known benign domains too",
			Doc: "look up well-known benign domains too (skipped by default)", Value: &o.IncludeBenign},
		{Name: "kinds", Usage: "look up only these kinds of observable, comma-separated: file, ip, url, domain (default: all)",
			Value: &o.Kinds},
	}
}

// Validate implements Options: each of Kinds is a kind.
func (o *LookupOptions) Validate() error {
	o.kinds = nil
	for name := range strings.SplitSeq(o.Kinds, ",") {
		if strings.TrimSpace(name) == "" {
			continue
		}
		k, err := ioc.ParseKind(name)
		if err != nil {
			return requestError(&OptionError{Name: "kinds", Reason: "takes " + err.Error()})
		}
		if !slices.Contains(o.kinds, k) {
			o.kinds = append(o.kinds, k)
		}
	}
	return nil
}

// leaveOut implements observableFilter: an observable of a kind not asked for, and a
// well-known benign domain (or URL on one) unless IncludeBenign.
func (o *LookupOptions) leaveOut(obs ioc.Observable, scope ioc.Scope, reason string) (why, include string) {
	switch {
	case o.kinds != nil && !slices.Contains(o.kinds, obs.Kind):
		return "not of a kind asked for (" + o.Kinds + ")", ""
	case scope == ioc.WellKnown && !o.IncludeBenign:
		return reason, "include_benign"
	}
	return "", ""
}

// Texts implements TextInputs: with Extract, the inputs are texts.
func (o *LookupOptions) Texts() bool { return o.Extract }

// prepareLookup finds the observables of the request's texts (Extract); what the
// extraction leaves out (an e-mail address, a file name) is skipped with its reason.
// Without Extract, the inputs are the request's. Which observables are sent is the
// run's rule (run.skip), as for every command.
func prepareLookup(opts Options, inputs []string) ([]string, []SkippedInput) {
	if !opts.(*LookupOptions).Extract {
		return inputs, nil
	}
	var out []string
	var skipped []SkippedInput
	for _, f := range ioc.Extract(strings.Join(inputs, "\n")) {
		if f.Ignored != "" {
			skipped = append(skipped, SkippedInput{Input: f.Text, Reason: f.Ignored})
			continue
		}
		out = append(out, f.Text)
	}
	return out, skipped
}

// lookupTask parses an input of any kind. An input that is no observable becomes a
// task of its own, whose execution reports why.
func lookupTask(_ *run, input string) (task, *Failure) {
	o, err := ioc.Parse(input)
	if err != nil {
		return task{text: input}, nil
	}
	return task{key: objectKey(o), tier: hashTier(o), obs: o}, nil
}

func execLookup(ctx context.Context, r *run, t task) outcome {
	if t.obs.Kind == "" {
		return lookupInvalid(t.text)
	}
	check := ReputationCheck(t.obs.Kind)
	out := reputationOutcome(ctx, r, t, check)
	out.indicator = check.FailureIndicator
	if out.fail == nil {
		objectFields(&out.entry).Check = check.Name
	}
	return out
}

// lookupInvalid is the outcome of an input that is no observable: in the words of the
// reputation check of the kind it looks like, else of lookup.
func lookupInvalid(input string) outcome {
	_, err := ioc.Parse(input)
	if err == nil {
		err = fmt.Errorf("not a file hash, IP address, URL or domain")
	}
	var ie *ioc.Error
	kind, reason := ioc.Kind(""), err.Error()
	if errors.As(err, &ie) {
		kind, reason = ie.Kind, ie.Reason
	}
	o := outcome{entry: ContextEntry{Type: string(kind)},
		fail: &Failure{StatusCode: 400, Code: vt.CodeInvalidArgument, Message: joinMsg(kindInvalid(kind), reason)}}
	if c := ReputationCheck(kind); kind != "" && c != nil {
		o.indicator = c.FailureIndicator
	}
	return o
}
