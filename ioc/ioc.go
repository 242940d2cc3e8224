// Package ioc parses observables (indicators of compromise) and normalises them to the
// canonical forms that VirusTotal uses as object ids: file hashes, IP addresses, URLs and
// domains. Defanged input ("hxxp://", "[.]", "(.)", "[:]", "[at]") is accepted.
//
// The four kinds of observable are this package's: Kinds lists them, Kind.Valid and
// ParseKind check a kind's name, Kind.Noun names it in prose. Parse detects the kind
// of a string and ParseAs parses it as a given kind; Extract finds the observables of
// free text, and Classify tells those not worth looking up (private addresses,
// reserved names, well-known benign domains) from the rest.
//
// Every rejection is an *Error whose message says what is wrong in words a user
// understands, for example "sha256 must be 64 hex characters, got 63".
package ioc

// HashType names a file hash algorithm.
type HashType string

// The hash algorithms VirusTotal accepts as file ids.
const (
	MD5    HashType = "md5"
	SHA1   HashType = "sha1"
	SHA256 HashType = "sha256"
)

// Observable is one parsed, canonicalised observable.
type Observable struct {
	// Kind is what the observable is.
	Kind Kind
	// Input is the text the observable was parsed from, as given.
	Input string
	// Value is the canonical form: a lower-case hex hash, the canonical IP text
	// (net/netip), the canonical URL, or the lower-case punycode domain. For a URL
	// given only as a VirusTotal id (base64url or sha256) Value is the decoded URL when
	// the id is base64url, and empty when it is a sha256 id.
	Value string
	// Hash is the hash algorithm, for KindFile only.
	Hash HashType
	// ID is the VirusTotal object id: the hash, the IP text, the URL id (unpadded
	// base64url of the canonical URL, or the sha256 form when that is what was given),
	// or the domain.
	ID string
}

// Error is the error returned for input that is not a valid observable.
type Error struct {
	// Kind is the kind the input was parsed as; empty when it was not recognised at all.
	Kind Kind
	// Input is the rejected text.
	Input string
	// Reason says what is wrong, for example "sha256 must be 64 hex characters, got 63".
	Reason string
}

func (e *Error) Error() string {
	if e.Kind == "" {
		return "invalid observable: " + e.Reason
	}
	return "invalid " + string(e.Kind) + ": " + e.Reason
}

// Aliases returns every VirusTotal id the observable is known by. For a URL these are
// the unpadded base64url id and the sha256 id form of Value (only the sha256 id when the
// URL was given as a sha256 id, because the URL itself is then unknown). The sha256 form
// matches VirusTotal's only when VirusTotal canonicalises the URL the same way; the
// base64url id is always accepted by VirusTotal. For other kinds Aliases returns the ID.
// It returns nil for the zero Observable.
func (o Observable) Aliases() []string {
	if o.Kind == KindURL && o.Value != "" {
		return []string{URLID(o.Value), URLSHA256ID(o.Value)}
	}
	if o.ID == "" {
		return nil
	}
	return []string{o.ID}
}

// newError returns an *Error for the input s.
func newError(kind Kind, s, reason string) *Error {
	return &Error{Kind: kind, Input: s, Reason: reason}
}
