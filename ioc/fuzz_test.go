package ioc

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// The seed corpus of each fuzz test is in testdata/fuzz/<FuzzName>/, with any input
// that once found a bug.

// checkResult asserts what holds for every parse of any input: a rejection is an *Error
// with a reason, for the input as given; a success is ASCII, carries its input, and
// parsing its Value again with parse gives the same observable (idempotence).
func checkResult(t *testing.T, name string, parse func(string) (Observable, error), in string, o Observable, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s(%q) error %T %v, want *Error", name, in, err, err)
		}
		if e.Reason == "" || e.Input != in {
			t.Fatalf("%s(%q) error %#v lacks a reason or the input", name, in, e)
		}
		if o != (Observable{}) {
			t.Fatalf("%s(%q) returned %+v with an error", name, in, o)
		}
		return
	}
	if o.Input != in || o.ID == "" || o.Kind == "" {
		t.Fatalf("%s(%q) = %+v: missing input, id or kind", name, in, o)
	}
	for _, s := range []string{o.Value, o.ID} {
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf || s[i] <= ' ' {
				t.Fatalf("%s(%q) = %+v: value or id has byte %#x", name, in, o, s[i])
			}
		}
	}
	if o.Kind == KindURL && o.Value != "" && o.ID != URLID(o.Value) {
		t.Fatalf("%s(%q) = %+v: ID is not URLID(Value)", name, in, o)
	}
	again := o.Value
	if again == "" { // a URL given as a sha256 id
		again = o.ID
	}
	p, err := parse(again)
	if err != nil {
		t.Fatalf("%s(%q) = %+v, but %s(%q) fails: %v", name, in, o, name, again, err)
	}
	if p.Kind != o.Kind || p.Value != o.Value || p.ID != o.ID || p.Hash != o.Hash {
		t.Fatalf("%s not idempotent: %q -> %+v, then %q -> %+v", name, in, o, again, p)
	}
}

func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		o, err := Parse(in)
		checkResult(t, "Parse", Parse, in, o, err)
		if err == nil {
			// The detected kind's own parser agrees.
			p, err := ParseAs(o.Kind, in)
			if err != nil || p != o {
				t.Fatalf("Parse(%q) = %+v but ParseAs(%s) = %+v, %v", in, o, o.Kind, p, err)
			}
		}
	})
}

func FuzzParseURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		o, err := ParseURL(in)
		checkResult(t, "ParseURL", ParseURL, in, o, err)
		if err == nil && o.Value != "" {
			// The base64url id of the canonical URL reads back as the same URL.
			p, err := ParseURL(o.ID)
			checkResult(t, "ParseURL", ParseURL, o.ID, p, err)
			if err != nil || p.Value != o.Value || p.ID != o.ID {
				t.Fatalf("ParseURL(%q) = %+v, but its id %q reads as %+v, %v", in, o, o.ID, p, err)
			}
		}
	})
}

func FuzzParseDomain(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		o, err := ParseDomain(in)
		checkResult(t, "ParseDomain", ParseDomain, in, o, err)
		if err == nil && (len(o.Value) > 253 || o.Value != o.ID) {
			t.Fatalf("ParseDomain(%q) = %+v", in, o)
		}
	})
}

func FuzzParseIP(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		o, err := ParseIP(in)
		checkResult(t, "ParseIP", ParseIP, in, o, err)
	})
}

func FuzzParseHash(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		o, err := ParseHash(in)
		checkResult(t, "ParseHash", ParseHash, in, o, err)
		if err == nil && len(o.Value) != map[HashType]int{MD5: 32, SHA1: 40, SHA256: 64}[o.Hash] {
			t.Fatalf("ParseHash(%q) = %+v: length does not match the hash type", in, o)
		}
	})
}
