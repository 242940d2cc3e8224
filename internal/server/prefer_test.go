package server

import (
	"strings"
	"testing"
	"time"
)

func TestParsePrefer(t *testing.T) {
	for _, tc := range []struct {
		fields []string
		want   preferences
		bad    bool
	}{
		{nil, preferences{}, false},
		{[]string{"respond-async"}, preferences{async: true}, false},
		{[]string{"Respond-Async, WAIT=10"}, preferences{async: true, wait: 10 * time.Second, hasWait: true}, false},
		{[]string{"respond-async", "wait=5"}, preferences{async: true, wait: 5 * time.Second, hasWait: true}, false},
		{[]string{`wait="7"; foo=bar, respond-async; x`}, preferences{async: true, wait: 7 * time.Second, hasWait: true}, false},
		// The first of a preference given twice counts.
		{[]string{"wait=3, wait=9"}, preferences{wait: 3 * time.Second, hasWait: true}, false},
		// Unknown preferences and malformed ones are ignored.
		{[]string{"return=minimal, handling=lenient, =x, respond async"}, preferences{}, false},
		{[]string{`foo="a,b;c", respond-async`}, preferences{async: true}, false},
		{[]string{"wait=0"}, preferences{hasWait: true}, false},
		{[]string{"wait=99999"}, preferences{wait: maxPreferWait, hasWait: true}, false},
		// A wait that is not a number of seconds is refused.
		{[]string{"wait=soon"}, preferences{}, true},
		{[]string{"wait=-1"}, preferences{}, true},
		{[]string{"wait=1.5"}, preferences{}, true},
		{[]string{"wait"}, preferences{}, true},
	} {
		got, err := parsePrefer(tc.fields)
		if (err != nil) != tc.bad {
			t.Errorf("%q: err = %v", tc.fields, err)
			continue
		}
		if !tc.bad && got != tc.want {
			t.Errorf("%q = %+v, want %+v", tc.fields, got, tc.want)
		}
	}
}

// FuzzParsePrefer: any Prefer field parses without a panic, to preferences with a
// wait within bounds, or to a 400 that names the wait.
func FuzzParsePrefer(f *testing.F) {
	for _, s := range []string{"respond-async, wait=10", `wait="5"; a="b\"c"`, `x="unterminated, wait=3`, "wait=18446744073709551616", ";;,,=,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		p, err := parsePrefer([]string{field})
		if err != nil {
			if !strings.Contains(err.Error(), "wait") {
				t.Fatalf("%q: %v", field, err)
			}
			return
		}
		if p.wait < 0 || p.wait > maxPreferWait || (p.wait > 0 && !p.hasWait) {
			t.Fatalf("%q = %+v", field, p)
		}
	})
}
