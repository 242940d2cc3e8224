package ioc

import (
	"fmt"
	"strings"
)

// hashLengths are the hex lengths of the hashes VirusTotal accepts as file ids.
var hashLengths = []struct {
	n int
	h HashType
}{{32, MD5}, {40, SHA1}, {64, SHA256}}

// ParseHash parses an md5, sha1 or sha256 file hash, told apart by length (32, 40 or 64
// hex characters). Surrounding whitespace is ignored and the hash is folded to lower
// case. A length within two characters of a valid one is reported against that hash
// ("sha256 must be 64 hex characters, got 63"); positions in messages count from 1.
func ParseHash(s string) (Observable, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Observable{}, newError(KindFile, s, "empty input")
	}
	v, h, reason := canonicalHash(t)
	if reason != "" {
		return Observable{}, newError(KindFile, s, reason)
	}
	return Observable{Kind: KindFile, Input: s, Value: v, Hash: h, ID: v}, nil
}

// canonicalHash returns the lower-case hash and its type, or a reason why t is not one.
func canonicalHash(t string) (string, HashType, string) {
	pos := 0
	for _, r := range t {
		pos++
		if r >= 0x80 || !isHex(byte(r)) {
			return "", "", fmt.Sprintf("hash has a non-hex character %q at position %d", r, pos)
		}
	}
	n := len(t)
	for _, l := range hashLengths {
		if n == l.n {
			return strings.ToLower(t), l.h, ""
		}
	}
	for _, l := range hashLengths {
		if n >= l.n-2 && n <= l.n+2 {
			return "", "", fmt.Sprintf("%s must be %d hex characters, got %d", l.h, l.n, n)
		}
	}
	return "", "", fmt.Sprintf("a file hash must be 32 (md5), 40 (sha1) or 64 (sha256) hex characters, got %d", n)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// allHex reports whether s is non-empty and made only of hex digits.
func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return s != ""
}
