package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

func TestContextEntryJSON(t *testing.T) {
	e := ContextEntry{Input: "x", Status: StatusOK, Type: "file", ID: "abc", RiskLevel: "High", RiskLevelCode: 1,
		RiskReason: "r", Fields: JSONFields{"zeta": 1, "alpha": []string{"a"}, "status": "shadowed"}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"input":"x","status":"ok","type":"file","id":"abc","risk_level":"High","risk_level_code":1,"risk_reason":"r","alpha":["a"],"zeta":1}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back ContextEntry
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if f, _ := back.Fields.(JSONFields); back.Input != "x" || back.RiskLevelCode != 1 || f["zeta"] != 1.0 || len(f) != 2 {
		t.Errorf("round trip: %+v", back)
	}
	min, _ := json.Marshal(ContextEntry{Input: "", Status: StatusError})
	if string(min) != `{"input":"","status":"error"}` {
		t.Errorf("empty fields not left out: %s", min)
	}
}

func TestEnvelopeJSONNames(t *testing.T) {
	env := &Envelope{Command: "c", ReturnData: Failed, KeyFields: map[string]any{}, ContextData: []ContextEntry{},
		RawData: []json.RawMessage{}, Errors: []ErrorEntry{{Input: "i", FailureIndicator: "F failed.", StatusCode: 404, Code: "NotFoundError", Message: "m"}}}
	b, _ := json.Marshal(env)
	for _, k := range []string{`"command"`, `"return_data"`, `"key_fields"`, `"context_data"`, `"raw_data"`, `"errors"`,
		`"failure_indicator"`, `"status_code"`, `"code"`, `"message"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("envelope JSON lacks %s: %s", k, b)
		}
	}
	// Skipped inputs are counted as neither: none of either (every input skipped) is
	// Successful.
	for _, tc := range []struct {
		ok, failed int
		want       string
		code       int
	}{{2, 0, Successful, 0}, {0, 2, Failed, 1}, {1, 1, PartiallySuccessful, 3}, {0, 0, Successful, 0}} {
		e := Envelope{ReturnData: returnData(tc.ok, tc.failed)}
		if e.ReturnData != tc.want || e.ExitCode() != tc.code {
			t.Errorf("%d ok, %d failed: %q exit %d", tc.ok, tc.failed, e.ReturnData, e.ExitCode())
		}
	}
}

func TestRequestJSON(t *testing.T) {
	var r Request
	err := json.Unmarshal([]byte(`{"connection":"prod","inputs":["a"],"no_submit":true,"poll_interval":"2s","timeout":30,"max_age":"1h"}`), &r)
	if err != nil {
		t.Fatal(err)
	}
	var conn string
	if ok, err := r.Take("connection", &conn); !ok || err != nil || conn != "prod" {
		t.Fatalf("Take(connection) = %v %v %q", ok, err, conn)
	}
	r.Command = "get-url-reports"
	p, err := Prepare(r)
	if err != nil {
		t.Fatal(err)
	}
	o := p.Options().(*URLReportOptions)
	if o.PollInterval != 2*time.Second || o.Timeout != 30*time.Second || p.RunOptions().MaxAge != time.Hour || !o.NoSubmit {
		t.Errorf("decoded %+v %+v", o, p.RunOptions())
	}
	if err := json.Unmarshal([]byte(`{"inputs":["a"],"timeout":"soon"}`), &r); err != nil {
		t.Fatal(err)
	}
	r.Command = "scan-url"
	if _, err := Prepare(r); err == nil {
		t.Error("a bad duration was accepted")
	}
}

func TestWidgetFileNameIsSafe(t *testing.T) {
	for _, in := range []string{"https://example.com/../../etc/passwd?x=<script>", "2001:db8::1", "example.com", strings.Repeat("a", 64)} {
		o, err := ioc.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		name := widgetFileName(o)
		if strings.ContainsAny(name, `/\:<>?*"|`) || strings.Contains(name, "..") || len(name) > 200 || !strings.HasSuffix(name, ".html") {
			t.Errorf("%q -> unsafe file name %q", in, name)
		}
	}
}

type bigFiles struct{}

func (bigFiles) Open(context.Context, string) (io.ReadCloser, string, int64, error) {
	return io.NopCloser(strings.NewReader("")), "big.iso", vt.MaxUpload + 1, nil
}

func (bigFiles) NotFound(ref string) string { return ref + " not found" }

func TestDetonateRefusesFilesOverTheLimit(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	e.deps.Files = bigFiles{}
	env := e.run(t, Request{Command: "detonate-files", Inputs: []string{"file-id-1"}})
	if len(env.Errors) != 1 || env.Errors[0].StatusCode != 400 || !strings.Contains(env.Errors[0].Message, "650 MB") {
		t.Errorf("over 650 MB: %s", mustJSON(t, env.Errors))
	}
	if n := e.requests(""); n != 0 {
		t.Errorf("%d requests sent for a file over the limit", n)
	}
}

// WriteJSON is encoding/json's document of the envelope, indented or compact, except
// that raw_data keeps VirusTotal's bytes.
func TestEnvelopeWriteJSON(t *testing.T) {
	raw := json.RawMessage("\n{ \"data\": {\"id\": \"x\",\n   \"attributes\": {\"html\": \"<b>&amp;</b>\", \"e\": \"\\u00e9\"}} }\n")
	env := &Envelope{Command: "c", ReturnData: PartiallySuccessful,
		KeyFields:   map[string]any{"RiskLevels": []string{"High", "N/A"}},
		ContextData: []ContextEntry{{Input: "a", Status: StatusOK, RiskLevel: "High", Fields: JSONFields{"n": 1}}, {Input: "b<", Status: StatusError, Error: "e"}},
		RawData:     []json.RawMessage{raw},
		Errors:      []ErrorEntry{{Input: "b<", FailureIndicator: "C failed.", StatusCode: 404, Code: "NotFoundError", Message: "m"}}}
	withSkipped := *env
	withSkipped.Skipped = []SkippedInput{{Input: "10.0.0.1", Type: "ip", Value: "10.0.0.1", Reason: "private address (RFC 1918)"}}
	// Every member of the envelope is written: a field added to Envelope must be
	// added to WriteJSON too.
	n := 0
	for f := range reflect.TypeFor[Envelope]().Fields() {
		if f.IsExported() {
			n++
		}
	}
	if n != 7 {
		t.Fatalf("Envelope has %d exported fields; WriteJSON writes 7: teach it the new one, and this test", n)
	}
	for _, env := range []*Envelope{env, &withSkipped} {
		testWriteJSON(t, env, raw)
	}
}

func testWriteJSON(t *testing.T, env *Envelope, raw json.RawMessage) {
	t.Helper()
	for _, indent := range []bool{true, false} {
		var b strings.Builder
		if err := env.WriteJSON(&b, JSONFormat{Indent: indent, EscapeHTML: indent}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		var got struct {
			RawData []json.RawMessage `json:"raw_data"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("indent %v: not JSON: %v\n%s", indent, err, out)
		}
		if len(got.RawData) != 1 || string(got.RawData[0]) != strings.TrimSpace(string(raw)) {
			t.Errorf("indent %v: raw_data %q, want VirusTotal's bytes", indent, got.RawData)
		}
		// Everything else is what encoding/json makes of the envelope.
		var a, w any
		json.Unmarshal([]byte(out), &a)
		std, _ := json.Marshal(env)
		json.Unmarshal(std, &w)
		if strings.Contains(out, "b<") == indent {
			t.Errorf("indent %v: HTML escaping not as asked: %s", indent, out)
		}
		if !reflect.DeepEqual(a, w) {
			t.Errorf("indent %v: document differs from encoding/json's:\n%s\n%s", indent, out, std)
		}
		if indent {
			std, _ = json.MarshalIndent(&Envelope{Command: env.Command, ReturnData: env.ReturnData, KeyFields: env.KeyFields,
				ContextData: env.ContextData, RawData: []json.RawMessage{}, Errors: env.Errors, Skipped: env.Skipped}, "", "  ")
			cut := strings.Index(out, `  "raw_data"`)
			if cut < 0 || !strings.HasPrefix(string(std), out[:cut]) {
				t.Errorf("indented output differs from encoding/json's before raw_data:\n%s", out)
			}
		}
		if !strings.HasSuffix(out, "}\n") || strings.Count(strings.Replace(out, strings.TrimSpace(string(raw)), "", 1), "\n") > 1 != indent {
			t.Errorf("indent %v: layout %q", indent, out)
		}
	}
}

// referenceContextJSON is ContextEntry's encoding as encoding/json makes it, field by
// field (the encoder ContextEntry.MarshalJSON replaced).
func referenceContextJSON(c ContextEntry) ([]byte, error) {
	var b []byte
	put := func(k string, v any) error {
		vb, err := json.Marshal(v)
		if err != nil {
			return err
		}
		kb, _ := json.Marshal(k)
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, kb...), ':'), vb...)
		return nil
	}
	put("input", c.Input)
	put("status", c.Status)
	for _, f := range [][2]string{{"type", c.Type}, {"id", c.ID}, {"risk_level", c.RiskLevel}} {
		if f[1] != "" {
			put(f[0], f[1])
		}
	}
	if c.RiskLevelCode != 0 {
		put("risk_level_code", c.RiskLevelCode)
	}
	if c.RiskReason != "" {
		put("risk_reason", c.RiskReason)
	}
	if c.Error != "" {
		put("error", c.Error)
	}
	if c.SkipReason != "" {
		put("skip_reason", c.SkipReason)
	}
	fields := map[string]any{}
	EachField(c.Fields, func(k string, v any) bool {
		if !slices.Contains(fixedContextKeys, k) {
			fields[k] = v
		}
		return true
	})
	keys := slices.Sorted(maps.Keys(fields))
	for _, k := range keys {
		if err := put(k, fields[k]); err != nil {
			return nil, err
		}
	}
	return append(append([]byte{'{'}, b...), '}'), nil
}

// The context entries the commands make encode, compact and indented, to the bytes
// encoding/json gave them.
func TestContextEntriesEncodeAsEncodingJSON(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	var files []string
	for i := range 40 {
		files = append(files, sha256Hex(fmt.Sprint("ctx-", i)))
	}
	urls := []string{"http://vtsoar.net/<a>?b=&c", "https://x.vtsoar.org/\u2028", "http://192.0.2.7/p"} // the last one skipped: a documentation address
	var entries []ContextEntry
	for _, req := range []Request{
		{Command: "check-file-reputation", Inputs: files},
		{Command: "get-file-reports", Inputs: files[:10]},
		{Command: "check-url-reputation", Inputs: urls},
		{Command: "get-url-reports", Inputs: urls},
		{Command: "check-domain-reputation", Inputs: []string{"vtsoar.net", "d1.vtsoar.org", "bad_domain!"}},
		{Command: "get-domain-reports", Inputs: []string{"vtsoar.net", "d2.vtsoar.org"}},
		{Command: "check-ip-reputation", Inputs: []string{"8.8.8.8", "1.1.1.1", "1.2.3"}},
		{Command: "get-ip-reports", Inputs: []string{"8.8.4.4"}},
		{Command: "get-file-behavior-summaries", Inputs: files[:5]},
		withOptions(t, "get-domain-relationships", []string{"vtsoar.net"}, map[string]any{"relationship": "subdomains"}),
		{Command: "lookup", Inputs: []string{files[0], "vtsoar.net", "8.8.8.8", urls[0]}},
		{Command: "search", Inputs: []string{"vtsoar.net"}},
	} {
		entries = append(entries, e.run(t, req).ContextData...)
	}
	entries = append(entries, ContextEntry{Input: "odd \x00<>&\xff", Status: StatusError, Error: "e\u2029",
		Fields: JSONFields{"f": 0.1, "t": time.Unix(1700000000, 0).UTC(), "m": map[string]int{"b": 1, "a": 2}, "nil": nil}})
	details := 0
	for _, c := range entries {
		EachField(c.Fields, func(string, any) bool { details++; return true })
		want, werr := referenceContextJSON(c)
		got, gerr := c.MarshalJSON()
		if werr != nil || gerr != nil {
			t.Fatalf("%s: %v / %v", c.Input, werr, gerr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s:\n got %s\nwant %s", c.Input, got, want)
		}
		var viaEncoder bytes.Buffer
		enc := json.NewEncoder(&viaEncoder)
		enc.SetIndent("    ", "  ")
		enc.Encode(c)
		env := &Envelope{Command: "c", ReturnData: Successful, ContextData: []ContextEntry{c}}
		var out bytes.Buffer
		if err := env.WriteJSON(&out, JSONFormat{Indent: true, EscapeHTML: true}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(out.Bytes(), bytes.TrimSuffix(viaEncoder.Bytes(), []byte("\n"))) {
			t.Fatalf("%s: indented entry differs from encoding/json's:\n%s\nwant\n%s", c.Input, out.Bytes(), viaEncoder.Bytes())
		}
	}
	if len(entries) < 60 || details < 300 {
		t.Fatalf("only %d entries with %d details: the test covers too little", len(entries), details)
	}
	if _, err := (ContextEntry{Fields: JSONFields{"bad": math.NaN()}}).MarshalJSON(); err == nil {
		t.Fatal("a NaN detail encoded without error")
	}
}
