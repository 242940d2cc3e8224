package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options are a command's own options: a struct of the command's (RelationshipOptions,
// WaitOptions, ...) with its defaults filled in by Command.NewOptions. Fields describes
// each option and points at the struct field that holds its value: the CLI's flags,
// the members of a REST body, the body's schema in the OpenAPI document and the
// console's form are all made from the fields, and Prepare checks each field's rules
// before Validate checks what the options mean together.
type Options interface {
	// Fields lists the options, in the order forms show them.
	Fields() []Field
	// Validate checks the options once each field's rules hold, and completes what
	// follows from them (a relationship's entry in vt's table).
	Validate() error
}

// Field is one option of a command.
type Field struct {
	// Name is the option's name on the command line ("poll-interval"); in JSON it is
	// written with '_' ("poll_interval", JSONName).
	Name string
	// Short is the option's one-letter flag ("r"), if any.
	Short string
	// Usage says what the option does: the flag's help, and the schema's description
	// and the form's label unless Doc says it otherwise.
	Usage string
	// Doc, when set, is what the REST schema and the console's form say of the option
	// (Usage speaks of the command line).
	Doc string
	// CLIOnly, when set, keeps the option out of REST bodies; it says what the REST
	// API does instead ("the widget HTML is returned in context_data").
	CLIOnly string
	// CLIDefault is the flag's default of a CLI-only text option (a request over REST
	// leaves it empty).
	CLIDefault string
	// Positive makes a number (an integer or a duration) that must be above 0;
	// NonNegative one that must not be below 0.
	Positive, NonNegative bool
	// Max bounds an integer given in a JSON body (0: no bound).
	Max int64
	// MaxLength bounds a text's length in bytes (0: no bound).
	MaxLength int
	// Enum lists the values a text takes (documentation and forms; Validate checks
	// them, with the case it accepts).
	Enum []string
	// Choices, when set, lists the values a form offers for a text, with their labels
	// (the relationships of a kind).
	Choices func() []Choice
	// Members are the fields of an option written as one JSON object (widget_colors:
	// fg1, bg1, ...), each a flag of its own on the command line; Value is then nil.
	Members []Field
	// Value points at the struct field that holds the option's value: a *string,
	// *bool, *int, *int64 or *time.Duration.
	Value any
}

// TextInputs is implemented by options under which a command's inputs may be free
// texts instead of one observable each (lookup's --extract): Texts reports whether
// they are, and the CLI then reads all of stdin as one text.
type TextInputs interface {
	Texts() bool
}

// Choice is a value a form offers for a text option.
type Choice struct {
	Value, Label string
}

// JSONName is the option's name in a JSON body: its name with '_' for '-'.
func (f Field) JSONName() string { return strings.ReplaceAll(f.Name, "-", "_") }

// Description is what the REST schema and the console's form say of the option.
func (f Field) Description() string {
	if f.Doc != "" {
		return f.Doc
	}
	return f.Usage
}

// options returns the run's options as the command's own type T.
func options[T Options](r *run) T { return r.p.opts.(T) }

// OptionError is a value an option may not have. Prepare returns it in a
// *RequestError, whose message names the option as each door does
// ("--limit must be at least 1, got 0", `"limit" must be at least 1, got 0`).
type OptionError struct {
	// Name is the option's name (Field.Name).
	Name string
	// Reason says what is wrong with the value ("must be at least 1, got 0").
	Reason string
}

func (e *OptionError) Error() string { return e.Name + " " + e.Reason }

// checkFields checks the rules of each field of fs (Positive, NonNegative, MaxLength).
func checkFields(fs []Field) error {
	for _, f := range fs {
		if f.Members != nil {
			if err := checkFields(f.Members); err != nil {
				return err
			}
			continue
		}
		var n int64
		isNum, isDur := false, false
		switch v := f.Value.(type) {
		case *int:
			n, isNum = int64(*v), true
		case *int64:
			n, isNum = *v, true
		case *time.Duration:
			n, isNum, isDur = int64(*v), true, true
		case *string:
			if f.MaxLength > 0 && len(*v) > f.MaxLength {
				return &OptionError{Name: f.Name, Reason: fmt.Sprintf("is longer than %d bytes", f.MaxLength)}
			}
		}
		switch {
		case !isNum:
		case f.Positive && n <= 0 && isDur:
			return &OptionError{Name: f.Name, Reason: "must be positive"}
		case f.Positive && n <= 0:
			return &OptionError{Name: f.Name, Reason: fmt.Sprintf("must be at least 1, got %d", n)}
		case f.NonNegative && n < 0:
			return &OptionError{Name: f.Name, Reason: "must not be negative"}
		}
	}
	return nil
}

// findField returns the field of fs whose JSON name is name.
func findField(fs []Field, name string) (Field, bool) {
	for _, f := range fs {
		if f.JSONName() == name {
			return f, true
		}
	}
	return Field{}, false
}

// decodeField decodes a JSON body's member into f's value. A number 0 leaves the
// value as it is (the default); an integer above f.Max is refused.
func decodeField(f Field, raw json.RawMessage) error {
	if f.Members != nil {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return &OptionError{Name: f.Name, Reason: "must be an object: " + jsonReason(err)}
		}
		for _, k := range sortedKeys(m) {
			mf, ok := findField(f.Members, k)
			if !ok {
				return &OptionError{Name: f.Name, Reason: fmt.Sprintf("has no member %q", k)}
			}
			if err := decodeField(mf, m[k]); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	switch v := f.Value.(type) {
	case *string:
		err = json.Unmarshal(raw, v)
	case *bool:
		err = json.Unmarshal(raw, v)
	case *int:
		var n int
		if err = json.Unmarshal(raw, &n); err == nil && n != 0 {
			*v = n
		}
		if err == nil && f.Max > 0 && int64(n) > f.Max {
			return &OptionError{Name: f.Name, Reason: fmt.Sprintf("must be at most %d, got %d", f.Max, n)}
		}
	case *int64:
		var n int64
		if err = json.Unmarshal(raw, &n); err == nil && n != 0 {
			*v = n
		}
	case *time.Duration:
		var d Duration
		if err = d.UnmarshalJSON(raw); err == nil && d != 0 {
			*v = time.Duration(d)
		}
	default:
		return fmt.Errorf("option %s: unsupported value %T", f.Name, f.Value)
	}
	if err != nil {
		return &OptionError{Name: f.Name, Reason: jsonReason(err)}
	}
	return nil
}

// jsonReason is a decoding error said of a member whose name the message gives.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "must be " + jsonType(te.Type.Kind().String()) + ", not " + te.Value
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonType(kind string) string {
	switch {
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "a boolean"
	case strings.HasPrefix(kind, "int"):
		return "an integer"
	}
	return "a " + kind
}

// appendFields appends the JSON members of fs (but CLI-only ones) to b, each
// preceded by a comma.
func appendFields(b []byte, fs []Field) []byte {
	for _, f := range fs {
		if f.CLIOnly != "" {
			continue
		}
		b = append(b, ',')
		b = strconv.AppendQuote(b, f.JSONName())
		b = append(b, ':')
		if f.Members != nil {
			obj := appendFields(nil, f.Members)
			if len(obj) > 0 {
				obj = obj[1:]
			}
			b = append(append(append(b, '{'), obj...), '}')
			continue
		}
		switch v := f.Value.(type) {
		case *time.Duration:
			b = strconv.AppendQuote(b, v.String())
		default:
			enc, _ := json.Marshal(f.Value)
			b = append(b, enc...)
		}
	}
	return b
}

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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
