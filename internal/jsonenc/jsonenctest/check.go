// Package jsonenctest checks jsonenc against encoding/json, for the tests of the
// packages whose values jsonenc encodes.
package jsonenctest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/vtsoar/vtsoar/internal/jsonenc"
)

// CheckAsMarshal fails t unless jsonenc.Append encodes v to the bytes json.Marshal
// gives it (and fails where json.Marshal fails).
func CheckAsMarshal(t testing.TB, name string, v any) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, gerr := jsonenc.Marshal(v)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: json.Marshal error %v, jsonenc error %v", name, werr, gerr)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: jsonenc differs from json.Marshal at byte %d:\n got ...%.80s\nwant ...%.80s", name, i, got[i:], want[i:])
	}
}
