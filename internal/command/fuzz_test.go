package command

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A context entry read from JSON (a REST client's, a stored result) encodes back to
// JSON that reads as the same entry.
func FuzzContextEntryJSON(f *testing.F) {
	f.Add([]byte(`{"input":"x","status":"ok","type":"file","id":"a","risk_level":"High","risk_level_code":1,"risk_reason":"r","md5":"m","stats":{"malicious":3}}`))
	f.Add([]byte(`{"input":"","status":"error","error":"File Not Found."}`))
	f.Add([]byte(`{"risk_level_code":1e3,"related":[{"type":"domain","id":"x"}]}`))
	f.Add([]byte(`{"input":"\u00e9\ud83d\ude00","more":true,"count":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e ContextEntry
		if err := json.Unmarshal(b, &e); err != nil {
			return
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("%s decoded but does not encode: %v", b, err)
		}
		if want, _ := referenceContextJSON(e); string(out) != string(want) {
			t.Fatalf("encoded as\n%s\nwhere encoding/json gives\n%s", out, want)
		}
		var back ContextEntry
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%s does not read back: %v", out, err)
		}
		if !reflect.DeepEqual(e, back) {
			t.Fatalf("round trip changed the entry:\n%#v\n%#v", e, back)
		}
	})
}

func FuzzDurationJSON(f *testing.F) {
	for _, s := range []string{`"15s"`, `30`, `"1h30m"`, `"2.5"`, `-1`, `"soon"`, `null`, `1e300`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Duration
		if err := json.Unmarshal(b, &d); err != nil {
			return
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Duration
		if err := json.Unmarshal(out, &back); err != nil || back != d {
			t.Fatalf("%s -> %s -> %v (%v), want %v", b, out, back, err, d)
		}
	})
}
