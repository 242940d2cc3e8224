package ioc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// defaultPorts are the ports dropped from canonical URLs, by scheme. They are also the
// schemes VirusTotal URL observables may have.
var defaultPorts = map[string]int{"http": 80, "https": 443, "ftp": 21}

// ParseURL parses a URL, or a VirusTotal URL id (unpadded base64url of the URL, or the
// 64-hex sha256 form).
//
// Surrounding whitespace is ignored and defanged input ("hxxps://example[.]com") is
// accepted. The input is read, in this order, as:
//   - a 64-hex sha256 URL id: Value is empty (the URL cannot be recovered) and ID is
//     the id in lower case;
//   - a base64url URL id (no '.', no ':', only base64url characters, padding optional)
//     that decodes to text starting with a scheme ("http://..."): Value is the
//     canonical form of the decoded URL and ID is URLID(Value), so an id of a
//     non-canonical URL comes back as the id of the canonical one;
//   - a URL. A URL without a scheme ("example.com/path") is read as http://, as
//     VirusTotal does.
//
// The canonical URL has its scheme and host in lower case, IDNA hosts in punycode, the
// default port dropped (80 for http, 443 for https, 21 for ftp), an empty path written
// as "/", the fragment dropped, and the user info, path and query kept as given, except
// that spaces, control and non-ASCII bytes are percent-encoded (and a '%' that starts
// no escape in the user info or path becomes "%25"); an empty query ("?") is dropped.
// Only http, https and ftp URLs are accepted.
func ParseURL(s string) (Observable, error) {
	t := Refang(strings.TrimSpace(s))
	if t == "" {
		return Observable{}, newError(KindURL, s, "empty input")
	}
	if len(t) == 64 && allHex(t) {
		return Observable{Kind: KindURL, Input: s, ID: strings.ToLower(t)}, nil
	}
	if u, ok := decodeURLID(t); ok {
		v, reason := canonicalURL(Refang(u))
		if reason != "" {
			return Observable{}, newError(KindURL, s, fmt.Sprintf("the URL id decodes to %q, which is not a valid URL: %s", shorten(u), reason))
		}
		return Observable{Kind: KindURL, Input: s, Value: v, ID: URLID(v)}, nil
	}
	return parseURL(s, t)
}

// parseURL parses the refanged, trimmed text t (given as s) as a URL.
func parseURL(s, t string) (Observable, error) {
	v, reason := canonicalURL(t)
	if reason != "" {
		return Observable{}, newError(KindURL, s, reason)
	}
	return Observable{Kind: KindURL, Input: s, Value: v, ID: URLID(v)}, nil
}

// URLID returns VirusTotal's id for a URL: its unpadded base64url encoding.
func URLID(canonicalURL string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(canonicalURL))
}

// URLSHA256ID returns VirusTotal's sha256 id form for a URL: the hex SHA-256 of the
// canonical URL.
func URLSHA256ID(canonicalURL string) string {
	sum := sha256.Sum256([]byte(canonicalURL))
	return hex.EncodeToString(sum[:])
}

// decodeURLID decodes t when it looks like a base64url URL id and decodes to text that
// starts with a scheme.
func decodeURLID(t string) (string, bool) {
	raw := strings.TrimRight(t, "=")
	if raw == "" {
		return "", false
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return "", false
	}
	u := string(b)
	if _, _, ok := splitScheme(u); !ok {
		return "", false
	}
	return u, true
}

// splitScheme splits "scheme://rest" and returns the scheme as given and rest.
func splitScheme(t string) (scheme, rest string, ok bool) {
	i := strings.Index(t, "://")
	if i <= 0 || !validScheme(t[:i]) {
		return "", "", false
	}
	return t[:i], t[i+3:], true
}

// validScheme reports whether s has the syntax of a URL scheme (RFC 3986).
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// otherScheme returns the scheme of a URL without "//" such as "mailto:x@example.com" or
// "javascript:...". It does not mistake "host:port" or "user:password@host" for one.
func otherScheme(t string) (string, bool) {
	i := strings.IndexByte(t, ':')
	if i <= 0 || strings.ContainsRune(t[:i], '.') || !validScheme(t[:i]) {
		return "", false
	}
	head := t[i+1:]
	if j := strings.IndexAny(head, "/?#"); j >= 0 {
		head = head[:j]
	}
	if head == "" || digitsOnly(head) {
		return "", false
	}
	if strings.ContainsRune(head, '@') && !strings.EqualFold(t[:i], "mailto") {
		return "", false
	}
	return t[:i], true
}

// canonicalURL returns the canonical form of the refanged URL t, or a reason why it is
// not a URL vtsoar accepts.
func canonicalURL(t string) (string, string) {
	scheme, rest, ok := splitScheme(t)
	schemeless := !ok
	if ok {
		scheme = strings.ToLower(scheme)
		if _, known := defaultPorts[scheme]; !known {
			return "", fmt.Sprintf("scheme %q is not supported (only http, https and ftp)", shorten(scheme))
		}
	} else if looksLikeIPv6(t) {
		return "", "an IPv6 address in a URL must be in brackets, like http://[2001:db8::1]/"
	} else if other, found := otherScheme(t); found {
		return "", fmt.Sprintf("scheme %q is not supported (only http, https and ftp)", shorten(strings.ToLower(other)))
	} else {
		scheme, rest = "http", strings.TrimPrefix(t, "//")
	}

	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	query := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i+1:]
	}
	authority, path := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	userinfo := ""
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, authority = authority[:i], authority[i+1:]
	}
	hostText, port, reason := splitHostPort(authority)
	if reason != "" {
		return "", reason
	}
	host, reason := canonicalURLHost(hostText, schemeless)
	if reason != "" {
		return "", reason
	}
	if port != "" {
		if !digitsOnly(port) {
			return "", fmt.Sprintf("port %q is not a number", shorten(port))
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Sprintf("port %s is out of range (1-65535)", shorten(port))
		}
		port = ""
		if n != defaultPorts[scheme] {
			port = strconv.Itoa(n)
		}
	}

	var b strings.Builder
	b.Grow(len(t) + 8)
	b.WriteString(scheme)
	b.WriteString("://")
	if userinfo != "" {
		escapeURLPart(&b, userinfo, true)
		b.WriteByte('@')
	}
	b.WriteString(host)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	escapeURLPart(&b, path, true)
	if query != "" {
		b.WriteByte('?')
		escapeURLPart(&b, query, false)
	}
	v := b.String()
	// A last check that net/url, used by the rest of vtsoar, reads the result too.
	if _, err := url.Parse(v); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", strings.TrimPrefix(err.Error(), "net/url: ")
	}
	return v, ""
}

// splitHostPort splits a URL authority (without user info) into host and port.
func splitHostPort(a string) (host, port, reason string) {
	if strings.HasPrefix(a, "[") {
		i := strings.IndexByte(a, ']')
		if i < 0 {
			return "", "", "host has a '[' without a closing ']'"
		}
		host, after := a[:i+1], a[i+1:]
		if after == "" {
			return host, "", ""
		}
		if after[0] != ':' {
			return "", "", fmt.Sprintf("unexpected %q after the IPv6 address", shorten(after))
		}
		return host, after[1:], ""
	}
	if strings.Count(a, ":") > 1 {
		return "", "", "an IPv6 address in a URL must be in brackets, like http://[2001:db8::1]/"
	}
	if i := strings.LastIndexByte(a, ':'); i >= 0 {
		return a[:i], a[i+1:], ""
	}
	return a, "", ""
}

// canonicalURLHost returns the canonical form of a URL host: a bracketed IPv6 address,
// an IPv4 address, or a lower-case punycode name (one label is enough, as in
// "http://intranet/", unless the URL had no scheme).
func canonicalURLHost(h string, schemeless bool) (string, string) {
	if h == "" {
		return "", "URL has no host"
	}
	if h[0] == '[' {
		a, reason := canonicalIP(h)
		if reason != "" {
			return "", fmt.Sprintf("host %s: %s", shorten(h), reason)
		}
		if !a.Is6() {
			return "", fmt.Sprintf("host %s: brackets are only for IPv6 addresses", shorten(h))
		}
		return "[" + a.String() + "]", ""
	}
	if digitsAndDots(h) {
		a, reason := canonicalIP(h)
		if reason != "" {
			return "", fmt.Sprintf("host %s: %s", shorten(h), reason)
		}
		return a.String(), ""
	}
	if strings.IndexByte(h, '%') >= 0 {
		return "", fmt.Sprintf("host %q: percent-encoded host names are not supported", shorten(h))
	}
	min := 1
	if schemeless {
		min = 2
	}
	name, reason := canonicalName(h, min)
	if reason != "" {
		if schemeless && !strings.Contains(h, ".") {
			return "", fmt.Sprintf("%q has no scheme and is not a host name (a URL without a scheme is read as http://)", shorten(h))
		}
		return "", fmt.Sprintf("host %q: %s", shorten(h), reason)
	}
	return name, ""
}

// escapeURLPart writes s to b with spaces, control characters and non-ASCII bytes
// percent-encoded; with fixPercent, a '%' that does not start an escape becomes "%25".
func escapeURLPart(b *strings.Builder, s string, fixPercent bool) {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c >= 0x7f:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		case c == '%' && fixPercent && !(i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])):
			b.WriteString("%25")
		default:
			b.WriteByte(c)
		}
	}
}

// shorten cuts s to a length fit for an error message.
func shorten(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
