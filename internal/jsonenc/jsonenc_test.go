package jsonenc_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/jsonenc"
	"github.com/vtsoar/vtsoar/internal/jsonenc/jsonenctest"
)

// appender is an Appender, as the emulator's engine results are.
type appender struct{ s string }

func (a appender) AppendJSON(dst []byte) []byte {
	return append(jsonenc.AppendString(append(dst, `{"s":`...), a.s), '}')
}

func (a appender) MarshalJSON() ([]byte, error) { return a.AppendJSON(nil), nil }

// Values Append does not encode itself go to json.Marshal, and odd values encode as
// json.Marshal encodes them.
func TestAppendAsMarshal(t *testing.T) {
	var nilMap map[string]any
	var nilSlice []any
	var nilStrings []string
	jsonenctest.CheckAsMarshal(t, "tree", map[string]any{
		"float": 1.5, "big": 1e21, "small": 1e-7, "max": math.MaxFloat64,
		"nil": nil, "nil map": nilMap, "nil slice": nilSlice, "nil strings": nilStrings,
		"raw":   json.RawMessage(` { "a" : "<b>" } `),
		"time":  time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		"ints":  []any{int(-1), int64(math.MinInt64), int32(7), uint64(math.MaxUint64), uint8(3)},
		"bools": []any{true, false},
		"strings": []string{"", "a\"b\\c", "\x00\x1f\x7f", "<&>", "\u2028\u2029", "é\xff\xfe",
			"\b\f\n\r\t", "\U0001F600"},
		"nested":   map[string]any{"z": map[string]any{}, "a": []any{}, "": "empty key", "<key>": 1},
		"struct":   struct{ B, A int }{1, 2},
		"typed":    map[string]int{"b": 1, "a": 2},
		"appender": []any{appender{"<x>"}, appender{""}},
	})
}

// A value json.Marshal refuses is refused, and dst comes back as it was.
func TestAppendRefuses(t *testing.T) {
	for _, v := range []any{map[string]any{"bad": math.Inf(1)}, []any{1, func() {}}, math.NaN()} {
		dst := []byte("prefix")
		out, err := jsonenc.Append(dst, v)
		if err == nil {
			t.Fatalf("%#v encoded without error: %s", v, out)
		}
		if string(out) != "prefix" {
			t.Fatalf("%#v: dst changed to %q", v, out)
		}
	}
}

// FuzzAppendString checks string escaping against json.Marshal on any bytes, as a
// value and as a key.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "<script>&</script>", "\u2028\u2029", "\xff", "é", "\x00\"\\", "\U0001F600\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := jsonenc.AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
		jsonenctest.CheckAsMarshal(t, "map", map[string]any{s: []any{s, map[string]any{"k": s}}, "x" + s: []string{s}})
	})
}

// FuzzAppendIndent checks AppendIndent against json.Indent on the compact form of any
// JSON document.
func FuzzAppendIndent(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,{},[],{"b":"x,y:{}[]\"\\"}],"c":null}`, `"s"`, `[[[]]]`, `{"":{"":[true,false,-1.5e3]}}`} {
		f.Add([]byte(s), "    ", "  ")
	}
	f.Fuzz(func(t *testing.T, doc []byte, prefix, indent string) {
		var compact bytes.Buffer
		if json.Compact(&compact, doc) != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), prefix, indent); err != nil {
			t.Fatal(err)
		}
		if got := jsonenc.AppendIndent(nil, compact.Bytes(), prefix, indent); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%s:\n got %q\nwant %q", compact.Bytes(), got, want.Bytes())
		}
	})
}
