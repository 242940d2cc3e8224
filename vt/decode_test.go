package vt

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

func TestDecodeToleratesOddAttributeTypes(t *testing.T) {
	body := []byte(`{"data": {"type": "file", "id": "abc", "attributes": {"md5": "44d88612fea8a8f36de82e1278abb02f", "reputation": "bad", "size": 68, "last_analysis_stats": {"malicious": 3}}}}`)
	f, err := decodeFileBody(body)
	if err != nil {
		t.Fatalf("one odd field failed the report: %v", err)
	}
	if f.Attributes.MD5 != "44d88612fea8a8f36de82e1278abb02f" || f.Attributes.Size != 68 || f.Attributes.LastAnalysisStats.Malicious != 3 || f.Attributes.Reputation != 0 {
		t.Errorf("attrs %+v", f.Attributes)
	}
}

func TestDecodeRejectsWrongType(t *testing.T) {
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, []byte(`{"data": {"type": "url", "id": "abc", "attributes": {}}}`))
	})
	_, err := c.GetFile(context.Background(), "abc")
	if e, ok := asError(err); !ok || e.Code != CodeInvalidResponse || !strings.Contains(e.Message, `expected a file object, got a "url" object`) {
		t.Errorf("err = %v", err)
	}
}

// TestDecodeFastPathMatchesTolerant checks, on every fixture, that the fast decoding
// path gives what the tolerant one gives.
func TestDecodeFastPathMatchesTolerant(t *testing.T) {
	entries, err := os.ReadDir(fixturesDir(t))
	if err != nil {
		t.Fatal(err)
	}
	fast := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		body := fixture(t, e.Name())
		fo, fmeta, ok := decodeObjectFast(body)
		if !ok {
			continue
		}
		fast++
		so, smeta, err := decodeObjectTolerant(body)
		if err != nil {
			t.Errorf("%s: fast path accepted what the tolerant path refuses: %v", e.Name(), err)
			continue
		}
		if fo.ID != so.ID || fo.Type != so.Type || fo.Links != so.Links || !bytes.Equal(fo.Attributes, so.Attributes) ||
			!bytes.Equal(fo.ContextAttributes, so.ContextAttributes) || len(fo.Relationships) != len(so.Relationships) ||
			!bytes.Equal(fo.Raw, so.Raw) || !bytes.Equal(fmeta, smeta) {
			t.Errorf("%s: fast and tolerant paths differ", e.Name())
		}
	}
	if fast < 15 {
		t.Errorf("only %d fixtures took the fast path", fast)
	}
	// Shapes that must take the tolerant path.
	for _, b := range []string{
		`{"type": "file", "id": "a", "data": {"attributes": {}}}`,
		`{"data": {"id": "a", "md5": "x", "attributes": {}}}`,
		`{"id": "a", "attributes": {}}`,
		`{"data": {"id": "a"}} trailing`,
	} {
		if _, _, ok := decodeObjectFast([]byte(b)); ok {
			t.Errorf("fast path took %s", b)
		}
	}
}

func TestDecodeObjectShapes(t *testing.T) {
	for _, tc := range []struct {
		body   string
		id     string
		errSub string
	}{
		{`{"data": {"id": "a", "type": "file"}}`, "a", ""},
		{`{"id": "a", "type": "file", "attributes": {"md5": "x"}}`, "a", ""},
		{`{"data": null}`, "", `no "data"`},
		{`{"data": [1]}`, "", "not a JSON object"},
		{`{"data": {"id": 5}}`, "", "object id"},
		{`{"error": {"code": "NotFoundError", "message": "x"}}`, "", "carries an error"},
		{`"just a string"`, "", "not a JSON object"},
	} {
		o, _, err := decodeObjectBody([]byte(tc.body))
		if tc.errSub == "" && (err != nil || o.ID != tc.id) {
			t.Errorf("%s: %v %q", tc.body, err, o.ID)
		}
		if tc.errSub != "" && (err == nil || !strings.Contains(err.Error(), tc.errSub)) {
			t.Errorf("%s: err %v, want %q", tc.body, err, tc.errSub)
		}
	}
}

// fuzzSecret is a key the fuzzer's inputs may contain; it must never reach an error.
const fuzzSecret = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed"

// FuzzDecode feeds arbitrary bodies to every decoder and to the error path: none may
// panic, successful decodes keep the body as Raw, and error texts never carry the key
// even when the body does.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"data": {"type": "file", "id": "a", "attributes": {"md5": "x", "last_analysis_stats": {"malicious": 1}}}}`,
		`{"type": "file", "id": "a", "data": {"attributes": {}}}`,
		`{"data": [{"type": "file", "id": "a", "md5": "x", "attributes": {"size": 1}}], "meta": {"cursor": "c"}}`,
		`{"data": {"type": "analysis", "id": "a", "attributes": {"status": "queued"}}, "meta": {"file_info": {"sha256": "s"}}}`,
		`{"data": {"type": "user", "id": "u", "attributes": {"apikey": "` + fuzzSecret + `", "privileges": {"a": {"granted": true}}}}}`,
		`{"error": {"code": "NotFoundError", "message": "key ` + fuzzSecret + `"}}`,
		`{"data": "https://www.virustotal.com/_ah/upload/x"}`,
		`{"data": {"url": "https://virustotal.com/ui/widget/html/x", "detection_ratio": {"detections": 1, "total": 2}}}`,
		`<html>` + fuzzSecret + `</html>`,
		``,
		`{"data": {"verdicts": ["MALWARE"], "dns_lookups": [{"hostname": "h"}]}}`,
	} {
		f.Add([]byte(s), 200)
		f.Add([]byte(s), 404)
	}
	c, err := New(fuzzSecret)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		if status < 100 || status > 999 {
			status = 500
		}
		check := func(name string, raw []byte, err error) {
			if err == nil && raw != nil && !bytes.Equal(raw, body) && name != "user" {
				t.Errorf("%s: Raw differs from the body", name)
			}
		}
		if v, err := decodeFileBody(body); err == nil {
			check("file", v.Raw, nil)
		}
		if v, err := decodeURLBody(body); err == nil {
			check("url", v.Raw, nil)
		}
		if v, err := decodeDomainBody(body); err == nil {
			check("domain", v.Raw, nil)
		}
		if v, err := decodeIPBody(body); err == nil {
			check("ip", v.Raw, nil)
		}
		if v, err := decodePageBody(body); err == nil {
			check("page", v.Raw, nil)
			for _, o := range v.Objects {
				if o == nil || !json.Valid(o.Raw) {
					t.Error("page object without valid Raw")
				}
			}
		}
		if v, err := decodeAnalysisBody(body); err == nil {
			check("analysis", v.Raw, nil)
		}
		if v, err := decodeBehaviourBody(body); err == nil {
			check("behaviour", v.Raw, nil)
		}
		if v, err := decodeWidgetBody(body); err == nil {
			check("widget", v.Raw, nil)
		}
		if v, err := decodeUserBody(body); err == nil {
			for _, b := range [][]byte{v.Raw, v.Attributes} {
				var x any
				if len(b) > 0 && json.Unmarshal(b, &x) == nil && dropKeyFold(x, "apikey") {
					t.Errorf("user keeps an apikey member: %s", b)
				}
			}
		}
		_, _ = decodeDescriptorBody(body)
		_, _ = decodeUploadURLBody(body)
		_, _ = decodeDownloadURLBody(body)
		if o, _, err := decodeObjectBody(body); err == nil {
			_, _ = commentOf(&o)
			_, _ = voteOf(&o)
		}

		r := &request{method: "GET", endpoint: "GET /files/{id}"}
		res := &response{status: status, header: http.Header{"Content-Type": {"text/html"}}, body: body}
		e := c.apiError(r, res)
		if e.StatusCode != status || e.Code == "" || strings.Contains(strings.ToLower(e.Error()), fuzzSecret) {
			t.Errorf("apiError = %q", e.Error())
		}
		if m := c.malformed(r, res, errTest); strings.Contains(strings.ToLower(m.Error()), fuzzSecret) {
			t.Errorf("malformed = %q", m.Error())
		}
	})
}

var errTest = jsonErr("test")

type jsonErr string

func (e jsonErr) Error() string { return string(e) }

// A member named twice takes its last value, as encoding/json gives it, whichever
// path decodes the report.
func TestDecodeDuplicateNamesLastWins(t *testing.T) {
	body := []byte(`{"data": {"type": "file", "id": "x", "id": "y", "attributes": {"md5": "a", "sha1": "s", "md5": "b",
"last_analysis_stats": {"malicious": 1}, "last_analysis_stats": {"malicious": 2}}}}`)
	f, err := decodeFileBody(body)
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != "y" || f.Attributes.MD5 != "b" || f.Attributes.SHA1 != "s" || f.Attributes.LastAnalysisStats == nil || f.Attributes.LastAnalysisStats.Malicious != 2 {
		t.Fatalf("decoded %+v %+v", f.Object, f.Attributes)
	}
}

// WithoutEngineResults decodes everything but the engine results, which stay in the
// raw answer.
func TestGetFileWithoutEngineResults(t *testing.T) {
	body := fixture(t, "file_report_crowdsourced.json")
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	full, err := c.GetFile(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	light, err := c.GetFile(context.Background(), "x", WithoutEngineResults())
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Attributes.LastAnalysisResults) == 0 || light.Attributes.LastAnalysisResults != nil {
		t.Fatalf("engine results: %d decoded without the option, %d with it", len(full.Attributes.LastAnalysisResults), len(light.Attributes.LastAnalysisResults))
	}
	full.Attributes.LastAnalysisResults = nil
	if !reflect.DeepEqual(full.Attributes, light.Attributes) || !bytes.Equal(light.Raw, body) || !bytes.Equal(light.Object.Attributes, full.Object.Attributes) {
		t.Fatalf("the rest of the report differs:\n%+v\n%+v", full.Attributes, light.Attributes)
	}
}

// Attributes holds the attributes' own text, white space around it left out.
func TestDecodeAttributesAreTheAnswersText(t *testing.T) {
	attrs := `{"md5": "a",
   "size": 3}`
	body := []byte(`{"data": {"type": "file", "id": "x", "attributes" :` + "\n\t " + attrs + "\n , \"links\": {}}}")
	f, err := decodeFileBody(body)
	if err != nil {
		t.Fatal(err)
	}
	if string(f.Object.Attributes) != attrs || f.Attributes.MD5 != "a" || f.Attributes.Size != 3 {
		t.Fatalf("attributes %q (%+v), want %q", f.Object.Attributes, f.Attributes, attrs)
	}
	if cap(f.Object.Attributes) != len(f.Object.Attributes) {
		t.Fatal("appending to Attributes would write over the body")
	}
}

// The one-pass decoding of a report gives what the two passes give, whenever it
// takes the report.
func FuzzReportFastPass(f *testing.F) {
	for _, s := range []string{
		`{"data": {"type": "file", "id": "a", "attributes": {"md5": "x", "last_analysis_stats": {"malicious": 1}, "last_analysis_results": {"E": {"category": "malicious", "result": "r"}}}}}`,
		`{"data": {"type": "file", "id": "a", "attributes": {"MD5": "x", "md5": "y", "size": 3, "names": ["n"], "other": {"k": [1, 2]}}, "links": {"self": "s"}}}`,
		`{"data": {"type": "url", "id": "u", "attributes": {"url": "http://x", "reputation": -3}}, "meta": {}}`,
		`{"data": {"type": "file", "id": "a", "attributes": {"size": "big"}}}`,
		`{"data": {"type": "file", "id": "a", "attributes": null, "context_attributes": {"x": 1}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, extra := range [][]jsonv2.Options{nil, {skipEngineResults}} {
			fo, fa, ok := decodeReportFast[FileAttributes](body, extra)
			if !ok {
				continue
			}
			so, _, err := decodeObjectBody(body)
			if err != nil {
				t.Fatalf("the one pass took a report the two passes refuse: %v", err)
			}
			var sa FileAttributes
			if err := decodeAttrs(so.Attributes, &sa, extra...); err != nil {
				t.Fatalf("the one pass took attributes the two passes refuse: %v", err)
			}
			if !reflect.DeepEqual(fo, so) || !reflect.DeepEqual(fa, sa) {
				t.Fatalf("one pass:\n%+v\n%+v\ntwo passes:\n%+v\n%+v", fo, fa, so, sa)
			}
		}
	})
}

// A report encodes as its Object: VirusTotal's attributes, not the typed subset.
func TestReportEncodesAsItsObject(t *testing.T) {
	f, err := decodeFileBody([]byte(`{"data": {"type": "file", "id": "x", "attributes": {"md5": "a", "magic": "PE32", "extra": 1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if f.Attributes.MD5 != "a" || string(b) != `{"id":"x","type":"file","links":{},"attributes":{"md5":"a","magic":"PE32","extra":1}}` {
		t.Errorf("encoded %s (typed md5 %q)", b, f.Attributes.MD5)
	}
}
