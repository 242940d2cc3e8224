package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Prepared is a request checked once by Prepare, ready to run: its command, the
// inputs the run answers, its options decoded and validated. Run and Stream take it;
// nothing is looked up or checked again. Its JSON (MarshalJSON) is the request's JSON
// form, which Prepare takes back to give the same Prepared value: a run kept in a
// store can be prepared again elsewhere.
type Prepared struct {
	cmd *Command
	// given are the inputs as the request gave them; inputs those the run answers,
	// by position (lookup's extraction and scope make them from given).
	given, inputs []string
	skipped       []SkippedInput
	opts          Options
	run           RunOptions
}

// Command returns the command.
func (p *Prepared) Command() *Command { return p.cmd }

// Inputs returns the inputs the run answers, in order: a Result's Index is a position
// in it. A command that takes no inputs has one, empty (its entry's input is the
// server's URL).
func (p *Prepared) Inputs() []string { return slices.Clone(p.inputs) }

// Len is the number of inputs the run answers (len(Inputs())).
func (p *Prepared) Len() int { return len(p.inputs) }

// Skipped returns what the request gave that the run leaves out before it starts, and
// why: what lookup's extraction leaves out of a text (an e-mail address). The inputs
// the run skips (a private address) are its results (Result.Skipped).
func (p *Prepared) Skipped() []SkippedInput { return slices.Clone(p.skipped) }

// Options returns the command's options, validated.
func (p *Prepared) Options() Options { return p.opts }

// RunOptions returns the run's options, with their defaults filled in.
func (p *Prepared) RunOptions() RunOptions { return p.run }

// AnalysisTimeout is how long the run may follow an analysis, for the commands that
// follow them (0 for the others): what the run may take beyond its requests.
func (p *Prepared) AnalysisTimeout() time.Duration {
	if a, ok := p.opts.(interface{ analysisTimeout() time.Duration }); ok {
		return a.analysisTimeout()
	}
	return 0
}

// MarshalJSON writes the request's JSON form: the command, the inputs as given, the
// command's options but the CLI-only ones, and the run's options.
func (p *Prepared) MarshalJSON() ([]byte, error) {
	b := []byte(`{"command":`)
	b = strconv.AppendQuote(b, p.cmd.Name)
	b = append(b, `,"inputs":`...)
	given := p.given
	if given == nil {
		given = []string{}
	}
	in, err := json.Marshal(given)
	if err != nil {
		return nil, err
	}
	b = append(b, in...)
	b = appendFields(b, p.opts.Fields())
	run := p.run
	b = appendFields(b, run.Fields())
	return append(b, '}'), nil
}

// Prepare looks the request's command up in the registry of every command and checks
// the request (Registry.Prepare).
func Prepare(req Request) (*Prepared, error) { return Commands().Prepare(req) }

// Prepare looks the request's command up and checks the request once: the members of
// its JSON form (only the command's options, the run's and "command" and "inputs"),
// each option's rules (Field), what the options mean together (Options.Validate),
// and its inputs. The error is a *RequestError (wrapping ErrUnknownCommand for a
// command the registry does not have, or an *OptionError for an option's value).
func (reg *Registry) Prepare(req Request) (*Prepared, error) {
	cmd, ok := reg.Lookup(req.Command)
	if !ok {
		return nil, unknownCommand(req.Command)
	}
	opts := req.Options
	if opts == nil {
		opts = cmd.NewOptions()
	}
	run, inputs := req.Run, req.Inputs
	fields, runFields := opts.Fields(), run.Fields()
	if req.body != nil {
		if cmd.CLIOnly != "" {
			return nil, badRequest("%s", cmd.CLIOnly)
		}
		var err error
		if inputs, err = reg.decodeBody(cmd, req.body, fields, runFields); err != nil {
			return nil, err
		}
	}
	for _, err := range []error{checkFields(fields), checkFields(runFields), opts.Validate()} {
		if err != nil {
			return nil, requestError(err)
		}
	}
	if run.Concurrency == 0 {
		run.Concurrency = DefaultConcurrency
	}
	if run.MaxAge == 0 {
		run.MaxAge = DefaultMaxAge
	}
	p := &Prepared{cmd: cmd, given: inputs, inputs: inputs, opts: opts, run: run}
	switch {
	case cmd.NoInputs:
		p.given, p.inputs = nil, []string{""}
	case len(inputs) == 0:
		return nil, badRequest("%s needs at least one input", cmd.Name)
	case cmd.prepare != nil:
		p.inputs, p.skipped = cmd.prepare(opts, inputs)
	}
	return p, nil
}

// requestError is err as a *RequestError: an *OptionError wrapped in one, naming the
// option as each door does.
func requestError(err error) error {
	var re *RequestError
	if errors.As(err, &re) {
		return err
	}
	var oe *OptionError
	if errors.As(err, &oe) {
		return refused(oe, func(d Door) string { return d.Option(oe.Name) + " " + oe.Reason })
	}
	return refused(err, func(Door) string { return err.Error() })
}

// decodeBody decodes the members of a request's JSON form into the values of fields
// (the command's options) and runFields (the run's), and returns its inputs. The
// members no field takes are refused first, in name order, so that the answer to a
// request wrong in several ways is always the same.
func (reg *Registry) decodeBody(cmd *Command, body map[string]json.RawMessage, fields, runFields []Field) ([]string, error) {
	var unknown []string
	for k := range body {
		if f, ok := findField(fields, k); (ok && f.CLIOnly == "") || k == "command" || k == "inputs" {
			continue
		}
		if _, ok := findField(runFields, k); !ok {
			unknown = append(unknown, k)
		}
	}
	if unknown != nil {
		slices.Sort(unknown)
		k := unknown[0]
		if f, ok := findField(fields, k); ok {
			return nil, badRequest("%s is not available over REST: %s", k, f.CLIOnly)
		}
		if f, ok := reg.options[k]; ok {
			return nil, refused(nil, func(d Door) string {
				return fmt.Sprintf("%s does not take the option %s", cmd.Name, d.Field(f))
			})
		}
		return nil, badRequest("unknown member %q", k)
	}
	if raw, ok := body["command"]; ok {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return nil, requestError(&OptionError{Name: "command", Reason: jsonReason(err)})
		}
		if canonicalName(name) != cmd.Name {
			return nil, badRequest("command %q in the body differs from %q", name, cmd.Name)
		}
	}
	var inputs []string
	if raw, ok := body["inputs"]; ok {
		if err := json.Unmarshal(raw, &inputs); err != nil {
			return nil, requestError(&OptionError{Name: "inputs", Reason: jsonReason(err)})
		}
		if len(inputs) > MaxBodyInputs {
			return nil, badRequest("at most %d inputs per request", MaxBodyInputs)
		}
	}
	for _, fs := range [][]Field{fields, runFields} {
		for _, f := range fs {
			if raw, ok := body[f.JSONName()]; ok {
				if err := decodeField(f, raw); err != nil {
					return nil, requestError(err)
				}
			}
		}
	}
	return inputs, nil
}
