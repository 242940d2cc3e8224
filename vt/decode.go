package vt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"reflect"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// This file decodes VirusTotal's envelopes. The decoders are pure functions of the
// body so that benchmarks and fuzz tests exercise them without a network. They are
// tolerant where real captures showed variations:
//
//   - an object's id, type or links beside "data" at the top level instead of inside
//     it fill what "data" lacks;
//   - a body that is a bare object (no "data" envelope) is taken as the object;
//   - members of an object other than id, type, links, attributes,
//     context_attributes and relationships are merged into its attributes (a capture
//     had last_analysis_stats, md5... beside "attributes"); "attributes" wins on a
//     clash;
//   - a typed attribute of an unexpected JSON type is left zero instead of failing
//     the whole report (the untouched JSON stays in Raw and Attributes).
//
// Reports are large (a file's 70-odd engine results make 20 to 200 KB), and decoding
// them is most of what a command spends in CPU. The usual shape is therefore decoded
// first in one strict pass by github.com/go-json-experiment/json (the prototype of
// encoding/json/v2, several times faster than encoding/json here); anything that pass
// refuses (an unknown member, a type mismatch, duplicate names, invalid UTF-8) goes
// the tolerant encoding/json way described above, so the outcome is the same.

type envelope struct {
	Data       json.RawMessage `json:"data"`
	Meta       json.RawMessage `json:"meta"`
	Links      Links           `json:"links"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Attributes json.RawMessage `json:"attributes"`
	Error      json.RawMessage `json:"error"`
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

func firstByte(b []byte) byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// unwrap returns the value of "data", or the body itself when it is a bare object.
func unwrap(body []byte) (env envelope, data json.RawMessage, err error) {
	if firstByte(body) != '{' {
		return env, nil, errors.New("answer is not a JSON object")
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return env, nil, err
	}
	if !isNull(env.Error) {
		return env, nil, fmt.Errorf("answer carries an error: %s", snippet(string(env.Error), 200))
	}
	if !isNull(env.Data) {
		return env, env.Data, nil
	}
	if env.ID != "" || !isNull(env.Attributes) {
		return env, body, nil
	}
	return env, nil, errors.New(`answer has no "data" member`)
}

// fastEnvelope is the usual shape of a single-object answer. It is decoded in one
// strict pass (strictFast); any surprise (an unknown member, a bare object, a type
// mismatch) falls back to the tolerant path.
type fastEnvelope struct {
	Data *struct {
		ID                string                     `json:"id"`
		Type              string                     `json:"type"`
		Links             Links                      `json:"links"`
		Attributes        span                       `json:"attributes"`
		ContextAttributes json.RawMessage            `json:"context_attributes"`
		Relationships     map[string]json.RawMessage `json:"relationships"`
	} `json:"data"`
	Meta json.RawMessage `json:"meta"`
}

// span is where a value lies in the input of the fast pass: the attributes, the
// bulk of a report, are checked there and taken as a slice of the body instead of a
// copy.
type span struct{ start, end int64 }

// UnmarshalJSONFrom implements jsonv2.UnmarshalerFrom.
func (s *span) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	start := dec.InputOffset() // just after the member's name
	if err := dec.SkipValue(); err != nil {
		return err
	}
	*s = span{start: start, end: dec.InputOffset()}
	return nil
}

// in returns the span's value in body ("" when there is none), without the colon and
// white space that come before it.
func (s span) in(body []byte) json.RawMessage {
	if s.end <= s.start || s.end > int64(len(body)) {
		return nil
	}
	v := bytes.TrimLeft(body[s.start:s.end], " \t\r\n:")
	return v[:len(v):len(v)]
}

// strictFast are the options of the fast pass: members are matched without regard to
// case, as encoding/json does, and an unknown member is an error (so that the tolerant
// path sees it).
var strictFast = []jsonv2.Options{jsonv2.RejectUnknownMembers(true), jsonv2.MatchCaseInsensitiveNames(true), jsontext.AllowDuplicateNames(true)}

func decodeObjectFast(body []byte) (Object, json.RawMessage, bool) {
	var env fastEnvelope
	if jsonv2.Unmarshal(body, &env, strictFast...) != nil || env.Data == nil {
		return Object{}, nil, false
	}
	d := env.Data
	o := Object{ID: d.ID, Type: d.Type, Links: d.Links, Relationships: d.Relationships, Raw: body}
	if attrs := d.Attributes.in(body); !isNull(attrs) {
		o.Attributes = attrs
	}
	if !isNull(d.ContextAttributes) {
		o.ContextAttributes = d.ContextAttributes
	}
	return o, env.Meta, true
}

// decodeObjectBody decodes a single-object answer. Raw is the whole body.
func decodeObjectBody(body []byte) (Object, json.RawMessage, error) {
	if o, meta, ok := decodeObjectFast(body); ok {
		return o, meta, nil
	}
	return decodeObjectTolerant(body)
}

// decodeObjectTolerant is decodeObjectBody's path for unusual shapes.
func decodeObjectTolerant(body []byte) (Object, json.RawMessage, error) {
	env, data, err := unwrap(body)
	if err != nil {
		return Object{}, nil, err
	}
	o, err := parseObject(data)
	if err != nil {
		return Object{}, nil, err
	}
	if o.ID == "" {
		o.ID = env.ID
	}
	if o.Type == "" {
		o.Type = env.Type
	}
	if o.Links == (Links{}) {
		o.Links = env.Links
	}
	o.Raw = body
	return o, env.Meta, nil
}

// parseObject decodes one object; its Raw is b.
func parseObject(b json.RawMessage) (Object, error) {
	var o Object
	if firstByte(b) != '{' {
		return o, errors.New(`"data" is not a JSON object`)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return o, err
	}
	var stray map[string]json.RawMessage
	for k, v := range m {
		switch k {
		case "id":
			if err := json.Unmarshal(v, &o.ID); err != nil {
				return o, fmt.Errorf("object id: %w", err)
			}
		case "type":
			if err := json.Unmarshal(v, &o.Type); err != nil {
				return o, fmt.Errorf("object type: %w", err)
			}
		case "links":
			_ = json.Unmarshal(v, &o.Links) // links are informative; tolerate odd ones
		case "attributes":
			if !isNull(v) {
				o.Attributes = v
			}
		case "context_attributes":
			if !isNull(v) {
				o.ContextAttributes = v
			}
		case "relationships":
			_ = json.Unmarshal(v, &o.Relationships)
		default:
			if stray == nil {
				stray = make(map[string]json.RawMessage)
			}
			stray[k] = v
		}
	}
	if len(stray) > 0 {
		attrs := make(map[string]json.RawMessage, len(stray))
		if len(o.Attributes) > 0 && json.Unmarshal(o.Attributes, &attrs) != nil {
			attrs = map[string]json.RawMessage{}
		}
		for k, v := range stray {
			if _, ok := attrs[k]; !ok {
				attrs[k] = v
			}
		}
		merged, err := json.Marshal(attrs)
		if err != nil {
			return o, err
		}
		o.Attributes = merged
	}
	o.Raw = b
	return o, nil
}

// reflectZero sets what the pointer v points to to its zero value.
func reflectZero(v any) {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv.Elem().SetZero()
	}
}

// skipEngineResults is the decoding option of WithoutEngineResults: the engine
// results (a map[string]EngineResult) are skipped, not decoded.
var skipEngineResults = jsonv2.WithUnmarshalers(jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, _ *map[string]EngineResult) error {
	return dec.SkipValue()
}))

// decodeAttrs decodes attributes into v, leaving fields of unexpected JSON types zero.
// extra are more options of the fast pass (skipEngineResults).
func decodeAttrs(attrs json.RawMessage, v any, extra ...jsonv2.Options) error {
	if isNull(attrs) {
		return nil
	}
	opts := append([]jsonv2.Options{jsonv2.MatchCaseInsensitiveNames(true), jsontext.AllowDuplicateNames(true)}, extra...)
	if jsonv2.Unmarshal(attrs, v, opts...) == nil {
		return nil
	}
	// Start again with encoding/json, which leaves a mistyped member zero and goes on.
	reflectZero(v)
	err := json.Unmarshal(attrs, v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return nil
	}
	return err
}

// decodeReport decodes a report whose data.type must be want (when present); extra
// are more options of the attributes' fast pass.
func decodeReport[A any](body []byte, want string, extra ...jsonv2.Options) (Object, A, error) {
	if o, attrs, ok := decodeReportFast[A](body, extra); ok {
		if o.Type != "" && o.Type != want {
			return o, attrs, fmt.Errorf("expected a %s object, got a %q object", want, o.Type)
		}
		return o, attrs, nil
	}
	var attrs A
	o, _, err := decodeObjectBody(body)
	if err != nil {
		return o, attrs, err
	}
	if o.Type != "" && o.Type != want {
		return o, attrs, fmt.Errorf("expected a %s object, got a %q object", want, o.Type)
	}
	if err := decodeAttrs(o.Attributes, &attrs, extra...); err != nil {
		return o, attrs, err
	}
	return o, attrs, nil
}

// attrsOf is the attributes member of a report in decodeReportFast: decoded into v
// in the envelope's pass, and where they lie kept (see span).
type attrsOf[A any] struct {
	v    A
	at   span
	opts []jsonv2.Options
}

// UnmarshalJSONFrom implements jsonv2.UnmarshalerFrom.
func (a *attrsOf[A]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	start := dec.InputOffset()
	if err := jsonv2.UnmarshalDecode(dec, &a.v, a.opts...); err != nil {
		return err
	}
	a.at = span{start: start, end: dec.InputOffset()}
	return nil
}

// attrsOptions are the options of the attributes in the fast pass: decodeAttrs's
// (unknown members are the norm there), in the envelope's strict pass.
var attrsOptions = []jsonv2.Options{jsonv2.RejectUnknownMembers(false), jsonv2.MatchCaseInsensitiveNames(true)}

// decodeReportFast is decodeReport's usual case in one strict pass over the answer:
// the envelope and the attributes at once. ok is false on any surprise (an unknown
// member of the envelope, a mistyped attribute, a bare object), which the two-pass
// path then decodes as it always did.
func decodeReportFast[A any](body []byte, extra []jsonv2.Options) (Object, A, bool) {
	type data struct {
		ID                string                     `json:"id"`
		Type              string                     `json:"type"`
		Links             Links                      `json:"links"`
		Attributes        attrsOf[A]                 `json:"attributes"`
		ContextAttributes json.RawMessage            `json:"context_attributes"`
		Relationships     map[string]json.RawMessage `json:"relationships"`
	}
	var env struct {
		Data *data           `json:"data"`
		Meta json.RawMessage `json:"meta"`
	}
	env.Data = &data{Attributes: attrsOf[A]{opts: append(attrsOptions[:len(attrsOptions):len(attrsOptions)], extra...)}}
	var zero A
	if jsonv2.Unmarshal(body, &env, strictFast...) != nil || env.Data == nil || (env.Data.ID == "" && env.Data.Type == "") {
		return Object{}, zero, false
	}
	d := env.Data
	o := Object{ID: d.ID, Type: d.Type, Links: d.Links, Relationships: d.Relationships, Raw: body}
	if attrs := d.Attributes.at.in(body); !isNull(attrs) {
		o.Attributes = attrs
	}
	if !isNull(d.ContextAttributes) {
		o.ContextAttributes = d.ContextAttributes
	}
	return o, d.Attributes.v, true
}

func decodeFileBody(body []byte, extra ...jsonv2.Options) (*File, error) {
	o, a, err := decodeReport[FileAttributes](body, "file", extra...)
	if err != nil {
		return nil, err
	}
	return &File{Object: o, Attributes: a}, nil
}

func decodeURLBody(body []byte, extra ...jsonv2.Options) (*URL, error) {
	o, a, err := decodeReport[URLAttributes](body, "url", extra...)
	if err != nil {
		return nil, err
	}
	return &URL{Object: o, Attributes: a}, nil
}

func decodeDomainBody(body []byte, extra ...jsonv2.Options) (*Domain, error) {
	o, a, err := decodeReport[DomainAttributes](body, "domain", extra...)
	if err != nil {
		return nil, err
	}
	return &Domain{Object: o, Attributes: a}, nil
}

func decodeIPBody(body []byte, extra ...jsonv2.Options) (*IPAddress, error) {
	o, a, err := decodeReport[IPAttributes](body, "ip_address", extra...)
	if err != nil {
		return nil, err
	}
	return &IPAddress{Object: o, Attributes: a}, nil
}

// decodePageBody decodes a collection: {"data": [...], "meta": {"cursor"}, "links"}.
// The answer of a one-to-one relationship, {"data": {...}} or {"data": null}, is a page
// of one object or none.
func decodePageBody(body []byte) (*Page, error) {
	if firstByte(body) != '{' {
		return nil, errors.New("answer is not a JSON object")
	}
	var env struct {
		Data  json.RawMessage `json:"data"`
		Meta  json.RawMessage `json:"meta"`
		Links Links           `json:"links"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	if !isNull(env.Error) {
		return nil, fmt.Errorf("answer carries an error: %s", snippet(string(env.Error), 200))
	}
	var items []json.RawMessage
	switch firstByte(env.Data) {
	case '[':
		if err := json.Unmarshal(env.Data, &items); err != nil {
			return nil, err
		}
	case '{':
		// A one-to-one relationship (a URL's network_location, a domain's parent).
		items = []json.RawMessage{env.Data}
	case 'n':
		// A one-to-one relationship without an object ({"data": null}).
		if !isNull(env.Data) {
			return nil, errors.New(`answer has no "data" array`)
		}
	default:
		return nil, errors.New(`answer has no "data" array`)
	}
	p := &Page{Links: env.Links, Raw: body, Objects: make([]*Object, 0, len(items))}
	for i, it := range items {
		o, err := parseObject(it)
		if err != nil {
			return nil, fmt.Errorf("object %d: %w", i, err)
		}
		p.Objects = append(p.Objects, &o)
	}
	var meta struct {
		Cursor any `json:"cursor"`
	}
	if !isNull(env.Meta) && json.Unmarshal(env.Meta, &meta) == nil {
		if s, ok := meta.Cursor.(string); ok {
			p.Cursor = s
		}
	}
	if p.Cursor == "" && p.Links.Next != "" {
		if u, err := url.Parse(p.Links.Next); err == nil {
			p.Cursor = u.Query().Get("cursor")
		}
	}
	return p, nil
}

func decodeAnalysisBody(body []byte) (*Analysis, error) {
	o, meta, err := decodeObjectBody(body)
	if err != nil {
		return nil, err
	}
	if o.Type != "" && o.Type != "analysis" {
		return nil, fmt.Errorf("expected an analysis object, got a %q object", o.Type)
	}
	var attrs struct {
		Status  AnalysisStatus          `json:"status"`
		Date    Timestamp               `json:"date"`
		Stats   AnalysisStats           `json:"stats"`
		Results map[string]EngineResult `json:"results"`
	}
	if err := decodeAttrs(o.Attributes, &attrs); err != nil {
		return nil, err
	}
	a := &Analysis{Object: o, Status: attrs.Status, Date: attrs.Date, Stats: attrs.Stats, Results: attrs.Results}
	var m struct {
		FileInfo struct {
			SHA256 string `json:"sha256"`
		} `json:"file_info"`
		URLInfo struct {
			ID string `json:"id"`
		} `json:"url_info"`
	}
	_ = decodeAttrs(meta, &m)
	switch {
	case m.FileInfo.SHA256 != "":
		a.ItemID = m.FileInfo.SHA256
	case m.URLInfo.ID != "":
		a.ItemID = m.URLInfo.ID
	default:
		var rel struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if raw, ok := o.Relationships["item"]; ok && decodeAttrs(raw, &rel) == nil && rel.Data.ID != "" {
			a.ItemID = rel.Data.ID
		} else if o.Links.Item != "" {
			if u, err := url.Parse(o.Links.Item); err == nil && u.Path != "" {
				a.ItemID = path.Base(u.Path)
			}
		}
	}
	return a, nil
}

// decodeDescriptorBody decodes {"data": {"type": "analysis", "id": "..."}}.
func decodeDescriptorBody(body []byte) (*AnalysisDescriptor, error) {
	o, _, err := decodeObjectBody(body)
	if err != nil {
		return nil, err
	}
	if o.ID == "" {
		return nil, errors.New("answer has no analysis id")
	}
	return &AnalysisDescriptor{ID: o.ID, Type: o.Type}, nil
}

func decodeBehaviourBody(body []byte) (*BehaviourSummary, error) {
	if firstByte(body) != '{' {
		return nil, errors.New("answer is not a JSON object")
	}
	var env struct {
		Data  json.RawMessage `json:"data"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	if !isNull(env.Error) {
		return nil, fmt.Errorf("answer carries an error: %s", snippet(string(env.Error), 200))
	}
	data := env.Data
	if isNull(data) {
		data = body // the summary without its envelope
	}
	if firstByte(data) != '{' {
		return nil, errors.New(`"data" is not a JSON object`)
	}
	s := &BehaviourSummary{}
	if err := decodeAttrs(data, s); err != nil {
		return nil, err
	}
	s.Raw = body
	return s, nil
}

func decodeWidgetBody(body []byte) (*WidgetURL, error) {
	_, data, err := unwrap(body)
	if err != nil {
		return nil, err
	}
	if firstByte(data) != '{' {
		return nil, errors.New(`"data" is not a JSON object`)
	}
	w := &WidgetURL{}
	if err := decodeAttrs(data, w); err != nil {
		return nil, err
	}
	if w.URL == "" {
		return nil, errors.New("answer has no widget url")
	}
	w.Raw = body
	return w, nil
}

// decodeUserBody decodes a user, dropping its "apikey" attribute from everything kept.
func decodeUserBody(body []byte) (*User, error) {
	stripped, err := stripAPIKeyAttr(body)
	if err != nil {
		return nil, err
	}
	o, a, err := decodeReport[struct {
		Quotas     map[string]Quota           `json:"quotas"`
		Privileges map[string]json.RawMessage `json:"privileges"`
	}](stripped, "user")
	if err != nil {
		return nil, err
	}
	u := &User{Object: o, Quotas: a.Quotas}
	if len(a.Privileges) > 0 {
		u.Privileges = make(map[string]bool, len(a.Privileges))
		for name, raw := range a.Privileges {
			var granted bool
			if json.Unmarshal(raw, &granted) != nil {
				var p struct {
					Granted bool `json:"granted"`
				}
				_ = json.Unmarshal(raw, &p)
				granted = p.Granted
			}
			u.Privileges[name] = granted
		}
	}
	return u, nil
}

// stripAPIKeyAttr removes every member named "apikey" (in any letter case, at any
// depth: encoding/json matches names case-insensitively) from a user answer. The body
// is re-encoded only when something was removed.
func stripAPIKeyAttr(body []byte) ([]byte, error) {
	if !json.Valid(body) {
		return nil, errors.New("answer is not valid JSON")
	}
	v, err := decodeAny(body)
	if err != nil {
		return nil, err
	}
	if !dropKeyFold(v, "apikey") {
		return body, nil
	}
	return encodeAny(v)
}

// decodeAny decodes a JSON answer to be edited and encoded again by encodeAny, its
// numbers kept as they were written.
func decodeAny(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// encodeAny encodes what decodeAny decoded (and was edited), without HTML escapes.
func encodeAny(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// dropKeyFold deletes members named key (ignoring case) from every object in v.
func dropKeyFold(v any, key string) bool {
	removed := false
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if strings.EqualFold(k, key) {
				delete(x, k)
				removed = true
				continue
			}
			if dropKeyFold(child, key) {
				removed = true
			}
		}
	case []any:
		for _, child := range x {
			if dropKeyFold(child, key) {
				removed = true
			}
		}
	}
	return removed
}

func decodeUploadURLBody(body []byte) (string, error) {
	if firstByte(body) != '{' {
		return "", errors.New("answer is not a JSON object")
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return "", err
	}
	var s string
	if json.Unmarshal(env.Data, &s) != nil || strings.TrimSpace(s) == "" {
		return "", errors.New(`answer has no upload URL in "data"`)
	}
	return strings.TrimSpace(s), nil
}

// decodeDownloadURLBody decodes {"data": "<signed URL>"}.
func decodeDownloadURLBody(body []byte) (string, error) {
	u, err := decodeUploadURLBody(body)
	if err != nil {
		return "", errors.New(`answer has no download URL in "data"`)
	}
	if p, perr := url.Parse(u); perr != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return "", errors.New(`"data" is not an http(s) URL`)
	}
	return u, nil
}
