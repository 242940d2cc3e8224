package command

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vtsoar/vtsoar/internal/jsonenc"
	"github.com/vtsoar/vtsoar/ioc"
)

// The values of Envelope.ReturnData.
const (
	Successful          = "Successful"
	PartiallySuccessful = "Partially Successful"
	Failed              = "Failed"
)

// The values of ContextEntry.Status.
const (
	StatusOK    = "ok"
	StatusError = "error"
	// StatusSkipped is an input nothing was sent for (a private address): it is
	// neither a success nor a failure.
	StatusSkipped = "skipped"
)

// Envelope is the result of one command over a list of inputs, the same from the CLI
// (-o json) and from REST.
type Envelope struct {
	// Command is the command's name ("check-file-reputation").
	Command string `json:"command"`
	// ReturnData is Successful when every input succeeded, Failed when none did, and
	// Partially Successful otherwise; skipped inputs count as neither (a run whose
	// inputs were all skipped is Successful).
	ReturnData string `json:"return_data"`
	// KeyFields are the values a playbook branches on, one element per input in input
	// order (for example "RiskLevels").
	KeyFields map[string]any `json:"key_fields"`
	// ContextData has exactly one entry per input, in input order.
	ContextData []ContextEntry `json:"context_data"`
	// RawData has VirusTotal's answer, untouched, for each input that succeeded, in
	// input order.
	RawData []json.RawMessage `json:"raw_data"`
	// Errors has one entry per input that failed, in input order.
	Errors []ErrorEntry `json:"errors"`
	// Skipped lists the inputs nothing was sent for, and why (a private address; for
	// lookup, a well-known benign domain, or what its extraction left out of a text);
	// absent when there is none.
	Skipped []SkippedInput `json:"skipped,omitempty"`

	// cmd is the command whose results these are (Source).
	cmd *Command
}

// UnmarshalJSON decodes an envelope, its context entries' fields typed as its
// command's are (JSONFields when the registry has no such command).
func (e *Envelope) UnmarshalJSON(b []byte) error {
	var raw struct {
		Command     string            `json:"command"`
		ReturnData  string            `json:"return_data"`
		KeyFields   map[string]any    `json:"key_fields"`
		ContextData []json.RawMessage `json:"context_data"`
		RawData     []json.RawMessage `json:"raw_data"`
		Errors      []ErrorEntry      `json:"errors"`
		Skipped     []SkippedInput    `json:"skipped"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = Envelope{Command: raw.Command, ReturnData: raw.ReturnData, KeyFields: raw.KeyFields, RawData: raw.RawData,
		Errors: raw.Errors, Skipped: raw.Skipped}
	cmd, known := Lookup(raw.Command)
	if known {
		e.cmd = cmd
	}
	if raw.ContextData != nil {
		e.ContextData = make([]ContextEntry, len(raw.ContextData))
	}
	for i, c := range raw.ContextData {
		var err error
		if known {
			e.ContextData[i], err = cmd.decodeEntry(c)
		} else {
			err = e.ContextData[i].UnmarshalJSON(c)
		}
		if err != nil {
			return fmt.Errorf("context_data[%d]: %w", i, err)
		}
	}
	return nil
}

// Source returns the command whose results the envelope holds: the one it was made
// for, else (an envelope decoded from JSON) the one Command names.
func (e *Envelope) Source() (*Command, bool) {
	if e.cmd != nil {
		return e.cmd, true
	}
	return Lookup(e.Command)
}

// SkippedInput is an input nothing was sent for.
type SkippedInput struct {
	// Index is the position of its context entry (status "skipped") in
	// context_data; nil for what has none (a text lookup's extraction left out, such
	// as an e-mail address).
	Index *int `json:"index,omitempty"`
	// Input is the observable as given or found in the text.
	Input string `json:"input"`
	// Type is its kind ("ip", "domain", ...), empty when it is no observable.
	Type string `json:"type,omitempty"`
	// Value is its canonical form.
	Value string `json:"value,omitempty"`
	// Reason says why it was not looked up ("private address (RFC 1918)").
	Reason string `json:"reason"`
	// Include names the option that looks such inputs up ("include_private"),
	// when there is one.
	Include string `json:"include,omitempty"`
}

// HasEntry reports whether the skipped input has its own context entry.
func (s SkippedInput) HasEntry() bool { return s.Index != nil }

// ContextEntry is what a command found out about one input. Input and Status are always
// set; the other fixed fields when they apply; Fields holds the command's own fields,
// typed (ObjectFields, RelationshipFields, ...; for example "analysis_id", "path",
// "last_analysis_stats"), encoded beside the fixed ones in one flat JSON object.
type ContextEntry struct {
	Input         string
	Status        string
	Type          string
	ID            string
	RiskLevel     string
	RiskLevelCode int
	RiskReason    string
	// Error is the error message when Status is "error" (the same as the matching
	// ErrorEntry's message), so that a streamed entry stands on its own.
	Error string
	// SkipReason says why nothing was sent when Status is "skipped" ("private
	// address (RFC 1918)").
	SkipReason string
	// Fields are the command's own fields; nil when it adds none.
	Fields Fields
}

var fixedContextKeys = []string{"input", "status", "type", "id", "risk_level", "risk_level_code", "risk_reason", "error", "skip_reason"}

// MarshalJSON encodes the entry as one flat object: the fixed fields first (empty ones
// left out, except input and status), then the command's fields in name order.
func (c ContextEntry) MarshalJSON() ([]byte, error) {
	return c.appendJSON(make([]byte, 0, 512))
}

// appendJSON appends MarshalJSON's encoding of the entry to dst: compact, escaped as
// json.Marshal escapes (jsonenc).
func (c ContextEntry) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"input":`...)
	dst = jsonenc.AppendString(dst, c.Input)
	dst = append(dst, `,"status":`...)
	dst = jsonenc.AppendString(dst, c.Status)
	str := func(k, v string) {
		if v != "" {
			dst = append(dst, ',')
			dst = jsonenc.AppendString(dst, k)
			dst = append(dst, ':')
			dst = jsonenc.AppendString(dst, v)
		}
	}
	str("type", c.Type)
	str("id", c.ID)
	str("risk_level", c.RiskLevel)
	if c.RiskLevelCode != 0 {
		dst = append(dst, `,"risk_level_code":`...)
		dst = strconv.AppendInt(dst, int64(c.RiskLevelCode), 10)
	}
	str("risk_reason", c.RiskReason)
	str("error", c.Error)
	str("skip_reason", c.SkipReason)
	var buf [32]namedValue
	var err error
	for _, f := range sortedFields(buf[:0], c.Fields) {
		if slices.Contains(fixedContextKeys, f.name) {
			continue
		}
		dst = append(dst, ',')
		dst = jsonenc.AppendString(dst, f.name)
		dst = append(dst, ':')
		if dst, err = jsonenc.Append(dst, f.value); err != nil {
			return nil, fmt.Errorf("context field %s: %w", f.name, err)
		}
	}
	return append(dst, '}'), nil
}

// contextFixed are the fixed fields of a context entry, as JSON has them.
type contextFixed struct {
	Input         string `json:"input"`
	Status        string `json:"status"`
	Type          string `json:"type"`
	ID            string `json:"id"`
	RiskLevel     string `json:"risk_level"`
	RiskLevelCode int    `json:"risk_level_code"`
	RiskReason    string `json:"risk_reason"`
	Error         string `json:"error"`
	SkipReason    string `json:"skip_reason"`
}

// UnmarshalJSON decodes a flat object: the fixed fields, and every other member into
// JSONFields (the entry's command, which would give them their types, is not known
// here: Envelope.UnmarshalJSON and Command.DecodeResult know it).
func (c *ContextEntry) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if err := c.decodeFixed(b); err != nil {
		return err
	}
	for _, k := range fixedContextKeys {
		delete(m, k)
	}
	if len(m) > 0 {
		c.Fields = JSONFields(m)
	}
	return nil
}

func (c *ContextEntry) decodeFixed(b []byte) error {
	var f contextFixed
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("context entry: %w", err)
	}
	*c = ContextEntry{Input: f.Input, Status: f.Status, Type: f.Type, ID: f.ID, RiskLevel: f.RiskLevel,
		RiskLevelCode: f.RiskLevelCode, RiskReason: f.RiskReason, Error: f.Error, SkipReason: f.SkipReason}
	return nil
}

// decodeEntry decodes a context entry of the command c: its fields typed as c's are.
func (c *Command) decodeEntry(b []byte) (ContextEntry, error) {
	var e ContextEntry
	if c.newFields == nil {
		err := e.UnmarshalJSON(b)
		return e, err
	}
	if err := e.decodeFixed(b); err != nil {
		return e, err
	}
	if e.Status == StatusSkipped {
		return e, nil // nothing was asked: the command added no fields
	}
	f := c.newFields()
	if err := json.Unmarshal(b, f); err != nil {
		return e, fmt.Errorf("context entry of %s: %w", c.Name, err)
	}
	if hasFields(f) && writesAny(b, f) {
		e.Fields = f
	}
	return e, nil
}

// writesAny reports whether the entry b has a member of f's fields: an entry written
// without fields (a failure) is read back without them, though some of them are
// written whatever their value when there.
func writesAny(b []byte, f Fields) bool {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return true
	}
	found := false
	EachField(f, func(name string, _ any) bool {
		_, found = m[name]
		return !found
	})
	return found
}

// hasFields reports whether f writes any field.
func hasFields(f Fields) bool {
	found := false
	EachField(f, func(string, any) bool { found = true; return false })
	return found
}

// ErrorEntry describes why one input failed.
type ErrorEntry struct {
	Input string `json:"input"`
	// FailureIndicator is the integration's failure line, for example
	// "Check File Reputation failed.".
	FailureIndicator string `json:"failure_indicator"`
	// StatusCode is VirusTotal's HTTP status (400 for input rejected before sending,
	// 0 when no answer came at all).
	StatusCode int `json:"status_code"`
	// Code is VirusTotal's error code ("NotFoundError", "QuotaExceededError"...).
	Code string `json:"code"`
	// Message says what went wrong, in the integration's words where it has some
	// ("File Not Found."), else VirusTotal's message.
	Message string `json:"message"`
}

// Line is the entry on one line, as D3 SOAR's Error tab gives it (the failure
// indicator, the status code, the message) with VirusTotal's code: "Test Connection
// failed. Failed to check the connector. 401 WrongCredentialsError: Wrong API key".
// A status of 0 (no answer) and an empty code are left out.
func (e ErrorEntry) Line() string {
	var b strings.Builder
	b.WriteString(e.FailureIndicator)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " %d", e.StatusCode)
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code + ":")
	}
	b.WriteString(" " + e.Message)
	return strings.TrimSpace(b.String())
}

// Result is the outcome of one input, as Request.OnResult receives it when the input
// finishes.
type Result struct {
	// Index is the input's position in Request.Inputs.
	Index   int
	Context ContextEntry
	// Raw is VirusTotal's answer when the input succeeded.
	Raw json.RawMessage
	// Err is set when the input failed.
	Err *ErrorEntry
	// Skipped is set when nothing was sent for the input (Context.Status is
	// "skipped"): why, and the option that would send it.
	Skipped *SkippedInput
}

// OK reports whether the input succeeded (a skipped input did not).
func (r Result) OK() bool { return r.Err == nil && r.Skipped == nil }

// Compact returns r without what only raw_data and the exports read (VirusTotal's
// answer, the decoded report its verdict came from): what a caller that writes each
// result as it comes (-o jsonl) keeps, so that its memory does not grow with the
// answers.
func (r Result) Compact() Result {
	r.Raw, r.Context = nil, compactEntry(r.Context)
	return r
}

// compactEntry is e without the decoded report its verdict came from.
func compactEntry(e ContextEntry) ContextEntry {
	if f, ok := e.Fields.(*ObjectFields); ok && f.report != nil {
		cp := *f
		cp.report = nil
		e.Fields = &cp
	}
	return e
}

// resultJSON is a Result's JSON.
type resultJSON struct {
	Index   int             `json:"index"`
	Context json.RawMessage `json:"context"`
	Raw     json.RawMessage `json:"raw,omitempty"`
	Err     *ErrorEntry     `json:"error,omitempty"`
	Skipped *SkippedInput   `json:"skipped,omitempty"`
}

// MarshalJSON writes the result as a run may keep it to assemble its envelope later:
// {"index", "context", "raw", "error", "skipped"}. Command.DecodeResult reads it back.
func (r Result) MarshalJSON() ([]byte, error) {
	ctx, err := r.Context.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return json.Marshal(resultJSON{Index: r.Index, Context: ctx, Raw: r.Raw, Err: r.Err, Skipped: r.Skipped})
}

// DecodeResult reads a result of the command c written by Result.MarshalJSON: its
// entry's fields typed as c's are, and the report its verdict came from decoded from
// its raw answer (so that it exports as the result of a run does).
func (c *Command) DecodeResult(b []byte) (Result, error) {
	var j resultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Result{}, fmt.Errorf("result of %s: %w", c.Name, err)
	}
	e, err := c.decodeEntry(j.Context)
	if err != nil {
		return Result{}, err
	}
	res := Result{Index: j.Index, Context: e, Raw: j.Raw, Err: j.Err, Skipped: j.Skipped}
	if f, ok := e.Fields.(*ObjectFields); ok && f.ReportSummary != nil && len(j.Raw) > 0 {
		if obj, err := decodeObject(ioc.Kind(e.Type), j.Raw); err == nil {
			f.report = &obj.Report
		}
	}
	return res, nil
}

// returnData summarises per-input outcomes: ok of them succeeded and failed failed
// (skipped inputs are neither; none of either is Successful).
func returnData(ok, failed int) string {
	switch {
	case failed == 0:
		return Successful
	case ok == 0:
		return Failed
	default:
		return PartiallySuccessful
	}
}

// ExitCode maps ReturnData to the CLI's exit code: 0 Successful, 3 Partially
// Successful, 1 Failed.
func (e *Envelope) ExitCode() int {
	switch e.ReturnData {
	case Successful:
		return 0
	case PartiallySuccessful:
		return 3
	default:
		return 1
	}
}

// writers are WriteJSON's buffers, used again: a service answers many envelopes.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// JSONFormat is how WriteJSON lays the envelope out.
type JSONFormat struct {
	// Indent indents by two spaces (the CLI's -o json); otherwise the document is
	// compact (REST).
	Indent bool
	// EscapeHTML escapes <, > and & in the strings vtsoar writes, as encoding/json
	// does by default. It does not apply to raw_data.
	EscapeHTML bool
}

// WriteJSON writes the envelope as one JSON document laid out as f says, followed by
// a newline. It is the document encoding/json makes of the envelope, except that
// each element of raw_data is written as VirusTotal sent it, byte for byte (only the
// white space around it is dropped): encoding/json would re-indent or compact it and
// escape <, > and & in it, spending more CPU on VirusTotal's large reports than on
// everything else, and changing them. The raw answers were decoded when they were
// fetched, so they are valid JSON.
func (e *Envelope) WriteJSON(w io.Writer, f JSONFormat) error {
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(w)
	defer func() {
		bw.Reset(nil)
		writers.Put(bw)
	}()
	nl, in1, in2, sep := "", "", "", ":"
	if f.Indent {
		nl, in1, in2, sep = "\n", "  ", "    ", ": "
	}
	var vb bytes.Buffer
	venc := json.NewEncoder(&vb)
	venc.SetEscapeHTML(f.EscapeHTML)
	enc := func(v any, prefix string) ([]byte, error) {
		vb.Reset()
		if f.Indent {
			venc.SetIndent(prefix, "  ")
		}
		if err := venc.Encode(v); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(vb.Bytes(), []byte("\n")), nil
	}
	var err error
	field := func(name string, v any) {
		if err != nil {
			return
		}
		var b []byte
		if b, err = enc(v, in1); err != nil {
			err = fmt.Errorf("envelope %s: %w", name, err)
			return
		}
		bw.WriteString(in1 + `"` + name + `"` + sep)
		bw.Write(b)
		bw.WriteString("," + nl)
	}
	// list writes an array with one element per line; each element is el(i).
	list := func(name string, n int, el func(i int) ([]byte, error), last bool) {
		if err != nil {
			return
		}
		bw.WriteString(in1 + `"` + name + `"` + sep)
		if n == 0 {
			bw.WriteString("[]")
		} else {
			bw.WriteString("[" + nl)
			for i := range n {
				b, e := el(i)
				if e != nil {
					err = fmt.Errorf("envelope %s[%d]: %w", name, i, e)
					return
				}
				bw.WriteString(in2)
				bw.Write(b)
				if i < n-1 {
					bw.WriteByte(',')
				}
				bw.WriteString(nl)
			}
			bw.WriteString(in1 + "]")
		}
		if !last {
			bw.WriteByte(',')
		}
		bw.WriteString(nl)
	}
	keyFields := e.KeyFields
	if keyFields == nil {
		keyFields = map[string]any{}
	}
	bw.WriteString("{" + nl)
	field("command", e.Command)
	field("return_data", e.ReturnData)
	field("key_fields", keyFields)
	// Context entries are encoded by appendJSON and indented by jsonenc: the bytes enc
	// gives them, without encoding/json's reflection and its two more passes over the
	// entry's encoding (compact, indent).
	var compact, indented []byte
	list("context_data", len(e.ContextData), func(i int) ([]byte, error) {
		var err error
		if compact, err = e.ContextData[i].appendJSON(compact[:0]); err != nil || !f.Indent {
			return compact, err
		}
		indented = jsonenc.AppendIndent(indented[:0], compact, in2, "  ")
		return indented, nil
	}, false)
	list("raw_data", len(e.RawData), func(i int) ([]byte, error) {
		raw := bytes.TrimSpace(e.RawData[i])
		if len(raw) == 0 {
			raw = []byte("null")
		}
		return raw, nil
	}, false)
	list("errors", len(e.Errors), func(i int) ([]byte, error) { return enc(e.Errors[i], in2) }, len(e.Skipped) == 0)
	if len(e.Skipped) > 0 {
		list("skipped", len(e.Skipped), func(i int) ([]byte, error) { return enc(e.Skipped[i], in2) }, true)
	}
	if err != nil {
		return err
	}
	bw.WriteString("}\n")
	return bw.Flush()
}
