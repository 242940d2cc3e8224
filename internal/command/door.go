package command

import "strings"

// Door is the way a request reached vtsoar. A refusal names the request's options as
// its door spells them: the CLI's flags (--out-dir) or the members of a REST request's
// body ("out_dir"; the console's pages post to REST too).
type Door int

// The doors.
const (
	// CLI is the command line: options are flags.
	CLI Door = iota
	// REST is the REST API: options are members of the body, a connection's settings
	// members of the connection.
	REST
)

// Option returns the option named opt (Field.Name) as d spells it: "--out-dir", or
// `"out_dir"` over REST.
func (d Door) Option(opt string) string { return d.Field(Field{Name: opt}) }

// Field returns option f as d spells it: over REST its member (`"widget_colors"`), on
// the command line its flag, or the flags of its members ("--fg1, --bg1, --bg2 and
// --bd1").
func (d Door) Field(f Field) string {
	if d == REST {
		return `"` + f.JSONName() + `"`
	}
	if len(f.Members) == 0 {
		return "--" + f.Name
	}
	flags := make([]string, len(f.Members))
	for i, m := range f.Members {
		flags[i] = "--" + m.Name
	}
	return strings.Join(flags[:len(flags)-1], ", ") + " and " + flags[len(flags)-1]
}

// OptionValue returns option opt given value as d spells it: "--out-dir DIR", or
// `"out_dir"` over REST (where a value's form is the body's schema).
func (d Door) OptionValue(opt, value string) string {
	if d == REST {
		return d.Option(opt)
	}
	return d.Option(opt) + " " + value
}

// premiumHint says how to tell vtsoar that the key is a premium one.
func (d Door) premiumHint() string {
	if d == REST {
		return `If the key is a premium one, set the connection's "quota" to "premium"`
	}
	return "If the key is a premium one, run with --quota premium (or store the connection with --quota premium)"
}
