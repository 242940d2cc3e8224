package ioc

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// idnaProfile converts internationalised names to punycode. It is idna.Lookup without
// the STD3 ASCII rules (so that "_" found in real DNS names passes; the remaining ASCII
// rules are checked by checkName) and without the hyphen checks of UTS #46 (names like
// "r3---sn-abc.googlevideo.com" are in common use; leading and trailing hyphens are
// checked by checkName).
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.StrictDomainName(false),
	idna.CheckHyphens(false),
)

// ParseDomain parses a domain name. Surrounding whitespace is ignored and defanged
// input ("example[.]com") is accepted. Internationalised names are converted to
// lower-case punycode (IDNA, lookup profile), and a trailing dot is removed. The name
// must be at most 253 characters, with at least two labels of 1 to 63 letters, digits,
// hyphens or underscores each, no label may start or end with a hyphen, and the
// top-level domain may not be all digits. An IP address is not a domain.
func ParseDomain(s string) (Observable, error) {
	t := Refang(strings.TrimSpace(s))
	if t == "" {
		return Observable{}, newError(KindDomain, s, "empty input")
	}
	if _, err := netip.ParseAddr(t); err == nil || digitsAndDots(t) || looksLikeIPv6(t) {
		return Observable{}, newError(KindDomain, s, "an IP address is not a domain")
	}
	if strings.Contains(t, "://") {
		return Observable{}, newError(KindDomain, s, "a URL is not a domain")
	}
	v, reason := canonicalName(t, 2)
	if reason != "" {
		return Observable{}, newError(KindDomain, s, reason)
	}
	return Observable{Kind: KindDomain, Input: s, Value: v, ID: v}, nil
}

// canonicalName returns the lower-case ASCII form of the host name t, which must have
// at least minLabels labels, or a reason why it is not a valid name.
func canonicalName(t string, minLabels int) (string, string) {
	name := t
	if !utf8.ValidString(t) {
		return "", "name is not valid UTF-8 text"
	}
	if needsIDNA(t) {
		a, err := idnaProfile.ToASCII(t)
		if err != nil {
			return "", idnaReason(t, err)
		}
		name = a
	} else {
		name = strings.ToLower(t)
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return "", "a domain needs at least two labels, like example.com"
	}
	if len(name) > 253 {
		return "", fmt.Sprintf("domain is %d characters long, the limit is 253", len(name))
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if reason := checkLabel(l); reason != "" {
			return "", reason
		}
	}
	if len(labels) < minLabels {
		return "", "a domain needs at least two labels, like example.com"
	}
	if tld := labels[len(labels)-1]; digitsOnly(tld) {
		return "", fmt.Sprintf("top-level domain %q is all digits", tld)
	}
	return name, ""
}

// idnaReason explains an IDNA failure of the name t, naming the label at fault when
// one label fails on its own.
func idnaReason(t string, err error) string {
	for _, l := range strings.Split(t, ".") {
		if !needsIDNA(l) {
			continue
		}
		if _, lerr := idnaProfile.ToASCII(l); lerr != nil {
			return fmt.Sprintf("label %q is not a valid internationalised name (%s)", shorten(l), strings.TrimPrefix(lerr.Error(), "idna: "))
		}
	}
	return "not a valid internationalised domain name: " + strings.TrimPrefix(err.Error(), "idna: ")
}

// checkLabel returns why the lower-case ASCII label l is not a valid DNS label, or "".
func checkLabel(l string) string {
	if l == "" {
		return "domain has an empty label (two dots in a row, or a dot at the start)"
	}
	if len(l) > 63 {
		return fmt.Sprintf("label %q is %d characters long, the limit is 63", l, len(l))
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Sprintf("character %q is not allowed in a domain name (only letters, digits, hyphen and underscore)", rune(c))
		}
	}
	if l[0] == '-' {
		return fmt.Sprintf("label %q starts with a hyphen", l)
	}
	if l[len(l)-1] == '-' {
		return fmt.Sprintf("label %q ends with a hyphen", l)
	}
	return ""
}

// needsIDNA reports whether t has non-ASCII characters or an ASCII-compatible
// ("xn--") label, the cases that IDNA processing converts or validates.
func needsIDNA(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] >= 0x80 {
			return true
		}
	}
	for _, l := range strings.Split(t, ".") {
		if hasPrefixFold(l, "xn--") {
			return true
		}
	}
	return false
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
