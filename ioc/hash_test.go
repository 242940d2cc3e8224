package ioc

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHash(t *testing.T) {
	md5 := "44d88612fea8a8f36de82e1278abb02f"
	sha1 := "3395856ce81f2b7382dee72602f798b642f14140"
	sha256 := "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	tests := []struct {
		in    string
		value string
		hash  HashType
	}{
		{md5, md5, MD5},
		{sha1, sha1, SHA1},
		{sha256, sha256, SHA256},
		{strings.ToUpper(sha256), sha256, SHA256},
		{"  \t" + strings.ToUpper(md5) + "\n", md5, MD5},
	}
	for _, tt := range tests {
		o, err := ParseHash(tt.in)
		if err != nil {
			t.Errorf("ParseHash(%q): %v", tt.in, err)
			continue
		}
		if o.Kind != KindFile || o.Value != tt.value || o.ID != tt.value || o.Hash != tt.hash || o.Input != tt.in {
			t.Errorf("ParseHash(%q) = %+v, want file %s %s", tt.in, o, tt.hash, tt.value)
		}
	}
}

func TestParseHashRejects(t *testing.T) {
	sha256 := "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	tests := []struct{ in, reason string }{
		{"", "empty input"},
		{"   ", "empty input"},
		{sha256[:63], "sha256 must be 64 hex characters, got 63"},
		{sha256 + "ab", "sha256 must be 64 hex characters, got 66"},
		{sha256[:39], "sha1 must be 40 hex characters, got 39"},
		{sha256[:31], "md5 must be 32 hex characters, got 31"},
		{sha256[:34], "md5 must be 32 hex characters, got 34"},
		{"abcdg" + sha256[5:], "hash has a non-hex character 'g' at position 5"},
		{"deadbeef1234", "a file hash must be 32 (md5), 40 (sha1) or 64 (sha256) hex characters, got 12"},
		{sha256[:50], "a file hash must be 32 (md5), 40 (sha1) or 64 (sha256) hex characters, got 50"},
		{"ab cd", "hash has a non-hex character ' ' at position 3"},
		{"é" + sha256[1:], "hash has a non-hex character 'é' at position 1"},
		{"\xff" + sha256[1:], "hash has a non-hex character '\uFFFD' at position 1"},
	}
	for _, tt := range tests {
		_, err := ParseHash(tt.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("ParseHash(%q) error = %v, want *Error", tt.in, err)
			continue
		}
		if e.Kind != KindFile || e.Reason != tt.reason || e.Input != tt.in {
			t.Errorf("ParseHash(%q) = %+v, want reason %q", tt.in, e, tt.reason)
		}
		if want := "invalid file: " + tt.reason; err.Error() != want {
			t.Errorf("ParseHash(%q).Error() = %q, want %q", tt.in, err.Error(), want)
		}
	}
}
