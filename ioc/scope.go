package ioc

import (
	"net/netip"
	"strings"
)

// Scope says whether an observable is worth asking VirusTotal about.
type Scope int

// The scopes of Classify.
const (
	// Public observables are looked up.
	Public Scope = iota
	// NonPublic observables name a private, reserved, loopback, link-local,
	// documentation or otherwise non-routable address, or a name reserved for
	// private or documentation use: VirusTotal knows nothing useful of them, and an
	// address of the own network should not leave it.
	NonPublic
	// WellKnown observables are well-known benign domains (and URLs on them that
	// host no user content): looking them up in every incident spends the budget on
	// noise.
	WellKnown
)

// Classify returns the scope of an observable and, unless it is Public, the reason,
// for example "private address (RFC 1918)" or "well-known benign domain
// (microsoft.com)". A URL takes the scope of its host, except that a URL on a
// well-known domain that serves user content (docs.google.com, github.com, ...) is
// Public. File hashes are always Public.
func Classify(o Observable) (Scope, string) {
	switch o.Kind {
	case KindIP:
		a, err := netip.ParseAddr(o.Value)
		if err != nil {
			return Public, ""
		}
		if r := NonPublicIP(a); r != "" {
			return NonPublic, r
		}
	case KindDomain:
		if r := ReservedName(o.Value); r != "" {
			return NonPublic, r
		}
		if d := wellKnownDomain(o.Value); d != "" {
			return WellKnown, "well-known benign domain (" + d + ")"
		}
	case KindURL:
		h := urlHost(o.Value)
		if h == "" {
			return Public, ""
		}
		if a, err := netip.ParseAddr(h); err == nil {
			if r := NonPublicIP(a); r != "" {
				return NonPublic, "URL on " + article(r)
			}
			return Public, ""
		}
		if r := ReservedName(h); r != "" {
			return NonPublic, "URL on " + article(r)
		}
		if d := wellKnownDomain(h); d != "" && !userContentHost(h) {
			return WellKnown, "URL on a well-known benign domain (" + d + ")"
		}
	}
	return Public, ""
}

// article puts "a" or "an" before a noun phrase.
func article(s string) string {
	if s != "" && strings.ContainsRune("aeiouAEIOU", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

// special are the IP ranges that are not public, with their reasons, beyond what
// net/netip classifies itself.
var special = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "'this network' address (RFC 1122)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space of carrier-grade NAT (RFC 6598)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment (RFC 6890)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation address (RFC 5737)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation address (RFC 5737)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation address (RFC 5737)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking address (RFC 2544)"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved address (RFC 1112)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation address (RFC 3849)"},
	{netip.MustParsePrefix("3fff::/20"), "documentation address (RFC 9637)"},
	{netip.MustParsePrefix("100::/64"), "discard-only address (RFC 6666)"},
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking address (RFC 5180)"},
}

// NonPublicIP returns why a is not a public address ("private address (RFC 1918)",
// "loopback address", "documentation address (RFC 5737)", ...), or "" when it is one.
// An IPv4-mapped IPv6 address is judged by its IPv4 address.
func NonPublicIP(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsUnspecified():
		return "unspecified address"
	case a.IsLoopback():
		return "loopback address"
	case a.Is4() && a.IsPrivate():
		return "private address (RFC 1918)"
	case a.IsPrivate():
		return "unique local address (RFC 4193)"
	case a.IsLinkLocalUnicast():
		return "link-local address"
	case a.IsMulticast():
		return "multicast address"
	}
	for _, s := range special {
		if s.prefix.Contains(a) {
			return s.reason
		}
	}
	return ""
}

// reservedTLDs are the top-level names reserved for private or documentation use.
var reservedTLDs = map[string]string{
	"test":      "name reserved for testing (RFC 2606)",
	"example":   "name reserved for documentation (RFC 2606)",
	"invalid":   "name reserved as invalid (RFC 2606)",
	"localhost": "loopback name (RFC 6761)",
	"local":     "multicast DNS name of the local network (RFC 6762)",
	"internal":  "name reserved for private networks (ICANN)",
	"lan":       "private network name",
	"intranet":  "private network name",
	"corp":      "private network name",
	"home":      "private network name",
}

// ReservedName returns why a host name is not a public one (a name under a reserved
// top-level domain such as .test, .example, .invalid, .localhost, .local or
// .internal; example.com, example.net or example.org; home.arpa; or a name of a
// single label, which only resolves inside a network), or "" when it is public.
func ReservedName(name string) string {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if name == "" {
		return ""
	}
	if !strings.Contains(name, ".") {
		if r, ok := reservedTLDs[name]; ok {
			return r
		}
		return "internal host name (a single label)"
	}
	tld := name[strings.LastIndexByte(name, '.')+1:]
	if r, ok := reservedTLDs[tld]; ok {
		return r
	}
	for _, d := range []string{"example.com", "example.net", "example.org"} {
		if under(name, d) {
			return "domain reserved for documentation (RFC 2606)"
		}
	}
	if under(name, "home.arpa") {
		return "name reserved for home networks (RFC 8375)"
	}
	if under(name, "in-addr.arpa") || under(name, "ip6.arpa") {
		return "reverse-DNS name"
	}
	return ""
}

func reservedName(name string) bool { return ReservedName(name) != "" }

// under reports whether name is d or a subdomain of d.
func under(name, d string) bool {
	return name == d || strings.HasSuffix(name, "."+d)
}

// wellKnown are registered domains of large services whose own names show up in
// incident texts as noise (mail signatures, links to privacy statements, software
// update hosts). A domain under one of them is skipped by default.
var wellKnown = []string{
	"microsoft.com", "windows.com", "windowsupdate.com", "microsoftonline.com", "office.com",
	"office365.com", "outlook.com", "live.com", "bing.com", "msn.com", "skype.com", "azure.com",
	"google.com", "gstatic.com", "youtube.com", "gmail.com", "googleusercontent.com", "googleapis.com",
	"apple.com", "icloud.com", "mozilla.org", "mozilla.net", "firefox.com",
	"wikipedia.org", "wikimedia.org", "w3.org", "ietf.org", "iana.org", "icann.org",
	"cloudflare.com", "akamai.net", "akamaihd.net", "digicert.com", "letsencrypt.org", "sectigo.com",
	"linkedin.com", "facebook.com", "twitter.com", "x.com", "instagram.com",
	"github.com", "githubusercontent.com", "gitlab.com",
	"virustotal.com", "mitre.org", "cisa.gov", "nist.gov", "zoom.us", "slack.com",
	"adobe.com", "oracle.com", "java.com", "ubuntu.com", "debian.org", "python.org", "golang.org", "go.dev",
	"dropbox.com", "sharepoint.com", "amazon.com", "amazonaws.com",
}

// userContent are the hosts (and domains, with their subdomains) under well-known
// domains where anyone can publish: a URL there can be a phishing page or a payload,
// whatever the domain's own reputation.
var userContent = []string{
	"docs.google.com", "drive.google.com", "sites.google.com", "forms.google.com", "storage.googleapis.com",
	"firebasestorage.googleapis.com", "googleusercontent.com",
	"github.com", "githubusercontent.com", "gitlab.com",
	"dropbox.com", "sharepoint.com", "onedrive.live.com", "1drv.ms", "amazonaws.com",
	"forms.office.com", "sway.office.com",
}

// wellKnownDomain returns the well-known domain name is under, or "".
func wellKnownDomain(name string) string {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for _, d := range wellKnown {
		if under(name, d) {
			return d
		}
	}
	return ""
}

func userContentHost(h string) bool {
	for _, d := range userContent {
		if under(h, d) {
			return true
		}
	}
	return false
}
