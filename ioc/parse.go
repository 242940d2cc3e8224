package ioc

import "strings"

// Parse detects the kind of s (file hash, IP, URL or domain) and parses it.
//
// Surrounding whitespace is trimmed and defanged text is refanged (see Refang) first.
// The kind is then decided in this order:
//  1. 32, 40 or 64 ASCII letters and digits, or 16 or more hex digits: a file hash
//     (so "a file hash must be ... got 12" and non-hex letters are reported as such).
//     A bare 64-hex string is therefore a file hash; use ParseURL for a URL sha256 id.
//  2. Digits and dots ("1.2.3.4"), or hex digits, dots and at least two colons, maybe in
//     brackets ("2001:db8::1"): an IP address.
//  3. A scheme ("http://", "hxxps://", "ftp://", "mailto:"; any scheme is detected, only
//     http, https and ftp are accepted): a URL.
//  4. No scheme but a path, query, fragment or port ("example.com/a", "example.com:8080"):
//     a URL read as http://, as VirusTotal does. Text with an '@' and none of these is
//     an email address, which is rejected.
//  5. Text with a dot or non-ASCII letters: a domain.
//
// Anything else is rejected with an *Error whose Kind is empty. A rejection of text
// recognised as one kind carries that kind. Parse does not read base64url URL ids,
// which are indistinguishable from words; use ParseURL for those.
func Parse(s string) (Observable, error) {
	t := Refang(strings.TrimSpace(s))
	switch {
	case t == "":
		return Observable{}, newError("", s, "empty input")
	case (len(t) == 32 || len(t) == 40 || len(t) == 64) && alnum(t) || len(t) >= 16 && allHex(t):
		return withInput(s)(ParseHash(t))
	case digitsAndDots(t) || looksLikeIPv6(t):
		return withInput(s)(ParseIP(t))
	}
	if _, _, ok := splitScheme(t); ok {
		return parseURL(s, t)
	}
	if _, ok := otherScheme(t); ok {
		return parseURL(s, t)
	}
	if strings.ContainsAny(t, "/?#:") {
		return parseURL(s, t)
	}
	if strings.Contains(t, "@") {
		return Observable{}, newError("", s, "an email address is not an observable ("+nounList()+")")
	}
	if strings.Contains(t, ".") || !isASCII(t) {
		return withInput(s)(ParseDomain(t))
	}
	return Observable{}, newError("", s, "not a "+nounList())
}

// ParseAs parses s as an observable of the given kind. An empty kind detects it with
// Parse.
func ParseAs(kind Kind, s string) (Observable, error) {
	switch kind {
	case "":
		return Parse(s)
	case KindFile:
		return ParseHash(s)
	case KindIP:
		return ParseIP(s)
	case KindURL:
		return ParseURL(s)
	case KindDomain:
		return ParseDomain(s)
	}
	return Observable{}, newError(kind, s, unknownKind(string(kind)).Error())
}

// withInput returns a function that records s as the input of a parse result.
func withInput(s string) func(Observable, error) (Observable, error) {
	return func(o Observable, err error) (Observable, error) {
		if e, ok := err.(*Error); ok {
			e.Input = s
			return o, e
		}
		if err == nil {
			o.Input = s
		}
		return o, err
	}
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
