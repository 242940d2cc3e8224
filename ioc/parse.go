package ioc

// Parse detects the kind of s (file hash, IP, URL or domain) and parses it.
func Parse(s string) (Observable, error) { panic("not implemented") }

// ParseAs parses s as an observable of the given kind.
func ParseAs(kind Kind, s string) (Observable, error) { panic("not implemented") }

// ParseHash parses an md5, sha1 or sha256 file hash, told apart by length.
func ParseHash(s string) (Observable, error) { panic("not implemented") }

// ParseIP parses an IPv4 or IPv6 address.
func ParseIP(s string) (Observable, error) { panic("not implemented") }

// ParseURL parses a URL, or a VirusTotal URL id (unpadded base64url of the URL, or the
// 64-hex sha256 form).
func ParseURL(s string) (Observable, error) { panic("not implemented") }

// ParseDomain parses a domain name (IDNA hosts are converted to punycode).
func ParseDomain(s string) (Observable, error) { panic("not implemented") }

// URLID returns VirusTotal's id for a URL: its unpadded base64url encoding.
func URLID(canonicalURL string) string { panic("not implemented") }

// URLSHA256ID returns VirusTotal's sha256 id form for a URL: the hex SHA-256 of the
// canonical URL.
func URLSHA256ID(canonicalURL string) string { panic("not implemented") }
