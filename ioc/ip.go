package ioc

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseIP parses an IPv4 or IPv6 address. Surrounding whitespace and brackets
// ("[2001:db8::1]") are ignored and defanged input ("1[.]2[.]3[.]4", "2001[:]db8[:][:]1")
// is accepted. Value and ID are the canonical text of net/netip: IPv6 compressed in
// lower case, an IPv4-mapped IPv6 address as "::ffff:1.2.3.4". IPv6 zones ("%eth0")
// and IPv4 numbers with leading zeros ("1.2.3.04", ambiguous between octal and decimal)
// are rejected.
func ParseIP(s string) (Observable, error) {
	t := Refang(strings.TrimSpace(s))
	if t == "" {
		return Observable{}, newError(KindIP, s, "empty input")
	}
	a, reason := canonicalIP(t)
	if reason != "" {
		return Observable{}, newError(KindIP, s, reason)
	}
	v := a.String()
	return Observable{Kind: KindIP, Input: s, Value: v, ID: v}, nil
}

// canonicalIP parses t as an IP address, or returns a reason why it is not one.
func canonicalIP(t string) (netip.Addr, string) {
	if len(t) >= 2 && t[0] == '[' && t[len(t)-1] == ']' {
		t = t[1 : len(t)-1]
	}
	if !strings.Contains(t, ":") {
		if reason := ipv4Problem(t); reason != "" {
			return netip.Addr{}, reason
		}
	}
	a, err := netip.ParseAddr(t)
	if err != nil {
		return netip.Addr{}, netipReason(t, err)
	}
	if z := a.Zone(); z != "" {
		return netip.Addr{}, fmt.Sprintf("IPv6 zone %q is not allowed: a zone names a network interface of one machine, not part of the address", "%"+z)
	}
	return a, ""
}

// ipv4Problem explains what is wrong with t when it is made of digits and dots but is
// not a valid IPv4 address. It returns "" when t is valid or is not digits and dots.
func ipv4Problem(t string) string {
	if !digitsAndDots(t) {
		return ""
	}
	parts := strings.Split(t, ".")
	if len(parts) != 4 {
		return fmt.Sprintf("an IPv4 address has 4 numbers separated by dots, got %d", len(parts))
	}
	for _, p := range parts {
		if p == "" {
			return "an IPv4 address has an empty number (two dots in a row, or a dot at an end)"
		}
		if len(p) > 1 && p[0] == '0' {
			trimmed := strings.TrimLeft(p, "0")
			if trimmed == "" {
				trimmed = "0"
			}
			return fmt.Sprintf("IPv4 number %q has a leading zero, which is ambiguous (octal or decimal); write %s", p, trimmed)
		}
		if n, err := strconv.Atoi(p); err != nil || n > 255 {
			return fmt.Sprintf("IPv4 number %s is out of range (0-255)", p)
		}
	}
	return ""
}

// netipReason turns a net/netip parse error into a reason without the Go call syntax.
func netipReason(t string, err error) string {
	msg := strings.TrimPrefix(err.Error(), "ParseAddr("+strconv.Quote(t)+"): ")
	if strings.Contains(msg, "leading zero") {
		return "an IPv4 number has a leading zero, which is ambiguous (octal or decimal)"
	}
	return "not a valid IP address: " + msg
}

// digitsAndDots reports whether s is made only of ASCII digits and dots, with at least
// one of each.
func digitsAndDots(s string) bool {
	dot, digit := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dot = true
		case '0' <= c && c <= '9':
			digit = true
		default:
			return false
		}
	}
	return dot && digit
}

// looksLikeIPv6 reports whether s (optionally bracketed, optionally with a zone) is
// made of hex digits, colons and dots with at least two colons: what Parse treats as
// an attempt at an IPv6 address.
func looksLikeIPv6(s string) bool {
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	if i := strings.IndexByte(s, '%'); i >= 0 {
		s = s[:i]
	}
	colons := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':':
			colons++
		case c == '.' || isHex(c):
		default:
			return false
		}
	}
	return colons >= 2
}
