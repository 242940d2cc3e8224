package ioc

import (
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// Found is an observable found in free text by Extract.
type Found struct {
	// Text is the observable as the text first writes it, defanged forms kept
	// ("hxxp://evil[.]example/x").
	Text string
	// Observable is what Text parses to. Its Kind is empty when Ignored is set.
	Observable
	// Count is how many times the text names the observable, in any of its forms.
	Count int
	// Ignored, when set, says why Text was found but is not an observable to look up
	// ("e-mail address").
	Ignored string
}

// maxToken bounds the length of a candidate token: longer runs of text (base64
// blobs, minified code) are not observables worth looking up.
const maxToken = 4096

// Extract finds the file hashes, IP addresses, URLs and domains in free text (an
// e-mail, a report, a log), defanged or not ("hxxp://", "[.]", "(.)", "[at]", ...).
// Each observable is returned once, in the order of its first appearance, with the
// number of times it appears; two texts naming the same object ("EVIL[.]com" and
// "evil.com") count as one.
//
// The text is cut into tokens at white space, quotes, angle brackets, commas,
// semicolons and pipes; a token loses the punctuation around it ("(evil.com).") and a
// "key=" or "key:" prefix of logs ("dst=1.2.3.4", "sha256:..."); an IPv4 address with
// a port ("1.2.3.4:443") is taken as the address. A token is an observable when
// Parse accepts it, with stricter rules than Parse for what free text holds: a domain
// (or a URL without a scheme) must end in a top-level domain of the public suffix
// list, and a name such as "setup.py" or "invoice.zip" whose top-level domain is
// also a common file extension is taken for a file name unless it is defanged or a
// full URL. E-mail addresses are reported with Ignored set: they are not observables
// VirusTotal checks.
func Extract(text string) []Found {
	var out []Found
	index := map[string]int{}
	add := func(f Found, key string) {
		if i, ok := index[key]; ok {
			out[i].Count++
			return
		}
		f.Count = 1
		index[key] = len(out)
		out = append(out, f)
	}
	for tok := range tokens(text) {
		f, ok := candidate(tok)
		if !ok {
			continue
		}
		key := "ignored:" + strings.ToLower(Refang(f.Text))
		if f.Ignored == "" {
			key = foundKey(f.Observable)
		}
		add(f, key)
	}
	return out
}

// foundKey identifies the object an observable names, to count repeats.
func foundKey(o Observable) string {
	if o.Kind == KindURL && o.Value != "" {
		return "url:" + o.Value
	}
	return string(o.Kind) + ":" + o.ID
}

// isSeparator reports the runes that end a token.
func isSeparator(r rune) bool {
	switch r {
	case '"', '<', '>', ',', ';', '|', '`', '\\', '^':
		return true
	case '\u2018', '\u2019', '\u201c', '\u201d', '\u00ab', '\u00bb': // typographic quotes
		return true
	}
	return unicode.IsSpace(r) || unicode.IsControl(r)
}

// tokens yields the runs of text between separators.
func tokens(text string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		start := -1
		for i, r := range text {
			if isSeparator(r) || r == utf8.RuneError {
				if start >= 0 {
					if !yield(text[start:i]) {
						return
					}
					start = -1
				}
				continue
			}
			if start < 0 {
				start = i
			}
		}
		if start >= 0 {
			yield(text[start:])
		}
	}
}

// candidate decides whether one token is an observable.
func candidate(tok string) (Found, bool) {
	if len(tok) > maxToken {
		return Found{}, false
	}
	tok = trimToken(tok)
	if tok == "" {
		return Found{}, false
	}
	if f, ok := judge(tok); ok {
		return f, true
	}
	// "key=value" and "key:value" as logs and reports write them.
	if i := strings.IndexAny(tok, "=:"); i > 0 && isWord(tok[:i]) && i+1 < len(tok) {
		if rest := trimToken(tok[i+1:]); rest != "" && !strings.HasPrefix(rest, "//") {
			return judge(rest)
		}
	}
	return Found{}, false
}

// judge parses one trimmed token with the rules of Extract.
func judge(tok string) (Found, bool) {
	t := Refang(tok)
	defanged := t != tok
	if host, ok := ipv4WithPort(t); ok {
		t = host
		if j := strings.LastIndex(tok, "[:]"); j > 0 && digitsOnly(tok[j+3:]) { // "1.2.3.4[:]443"
			tok = tok[:j]
		} else if j := strings.LastIndexByte(tok, ':'); j > 0 {
			tok = tok[:j]
		}
	}
	if strings.Contains(t, "@") && !strings.Contains(t, "/") && !strings.Contains(t, ":") {
		if _, err := ParseDomain(t[strings.LastIndexByte(t, '@')+1:]); err == nil && strings.IndexByte(t, '@') > 0 {
			return Found{Text: tok, Ignored: "e-mail address (not an observable VirusTotal checks)"}, true
		}
		return Found{}, false
	}
	o, err := Parse(t)
	if err != nil {
		return Found{}, false
	}
	o.Input = tok
	switch o.Kind {
	case KindDomain:
		if !plausibleName(o.Value, defanged) {
			return Found{}, false
		}
	case KindURL:
		_, _, hasScheme := splitScheme(t)
		if !hasScheme && o.Value != "" && !plausibleName(urlHost(o.Value), defanged) {
			return Found{}, false
		}
		if hasScheme && o.Value != "" {
			if h := urlHost(o.Value); h != "" && !isIPHost(h) && !knownTLD(h) && !reservedName(h) {
				return Found{}, false
			}
		}
	case KindIP:
		// A bare IPv6 address must have at least one hex digit: "::" alone, or
		// times such as 12:30:45, are not worth looking up.
		if strings.Contains(o.Value, ":") && !strings.ContainsAny(strings.Trim(t, "[]"), "0123456789abcdefABCDEF") {
			return Found{}, false
		}
	}
	return Found{Text: tok, Observable: o}, true
}

// fileLikeTLDs are top-level domains that are also common file extensions: a bare
// "name.zip" in free text is more often a file than a domain.
var fileLikeTLDs = map[string]bool{
	"zip": true, "mov": true, "py": true, "sh": true, "pl": true, "rs": true, "md": true,
	"so": true, "cc": true, "ps": true, "app": true, "run": true, "exe": true, "bat": true,
	"cmd": true, "php": true, "asp": true, "js": true, "json": true, "sys": true, "dll": true,
}

// plausibleName reports whether a name found without a scheme is worth taking for a
// domain: it ends in a known top-level domain (or is a reserved name, which lookup
// reports as such), and it is not a file name.
func plausibleName(name string, defanged bool) bool {
	if isIPHost(name) {
		return true
	}
	if reservedName(name) {
		return true
	}
	if !knownTLD(name) {
		return false
	}
	tld := name[strings.LastIndexByte(name, '.')+1:]
	if fileLikeTLDs[tld] && !defanged && strings.Count(name, ".") == 1 {
		return false
	}
	return true
}

// knownTLD reports whether name ends in a top-level domain that ICANN manages (the
// public suffix list), with at least one label before it.
func knownTLD(name string) bool {
	suffix, icann := publicsuffix.PublicSuffix(name)
	return icann && suffix != name
}

// urlHost returns the host of a canonical URL (without port or brackets).
func urlHost(u string) string {
	_, rest, ok := splitScheme(u)
	if !ok {
		return ""
	}
	rest = strings.TrimPrefix(rest, "//")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i > 0 {
			return rest[1:i]
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// URLHost returns the host of a canonical URL (an Observable's Value of KindURL):
// a lower-case name or an IP address without brackets or port; "" when there is none.
func URLHost(canonicalURL string) string { return urlHost(canonicalURL) }

func isIPHost(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil
}

// ipv4WithPort recognises "1.2.3.4:443" and returns the address.
func ipv4WithPort(t string) (string, bool) {
	i := strings.LastIndexByte(t, ':')
	if i <= 0 || i == len(t)-1 || strings.Count(t, ":") != 1 {
		return "", false
	}
	host, port := t[:i], t[i+1:]
	if !digitsAndDots(host) || !digitsOnly(port) || len(port) > 5 {
		return "", false
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return "", false
	}
	return host, true
}

// trimToken removes the punctuation around a token: sentence punctuation after it,
// opening brackets and quotes before it, closing ones after it that it does not open.
func trimToken(t string) string {
	for t != "" {
		before := t
		t = strings.TrimLeft(t, "'(*")
		if strings.HasPrefix(t, "[") && !startsWithDefang(t) && !bracketedIPv6(t) {
			t = t[1:]
		}
		if strings.HasPrefix(t, "{") && !startsWithDefang(t) {
			t = t[1:]
		}
		t = strings.TrimRight(t, ".,:;!?'*")
		for _, pair := range [][2]byte{{'(', ')'}, {'[', ']'}, {'{', '}'}} {
			for strings.HasSuffix(t, string(pair[1])) && strings.Count(t, string(pair[0])) < strings.Count(t, string(pair[1])) {
				t = t[:len(t)-1]
			}
		}
		if t == before {
			break
		}
	}
	return t
}

func startsWithDefang(t string) bool {
	for _, tok := range defangTokens {
		if hasPrefixFold(t, tok.from) {
			return true
		}
	}
	return false
}

func bracketedIPv6(t string) bool {
	i := strings.IndexByte(t, ']')
	return i > 0 && looksLikeIPv6(t[:i+1])
}

// isWord reports a log key: letters, digits, '_', '-' and '.', starting with a
// letter.
func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && ('0' <= c && c <= '9' || c == '_' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != "" && !strings.Contains(s, ".")
}
