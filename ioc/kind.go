package ioc

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is the type of an observable. The kinds are the four that VirusTotal keeps
// reports of; Kinds lists them, and this file is the one place that does.
type Kind string

// The observable kinds, in the order Kinds returns them.
const (
	KindFile   Kind = "file"
	KindIP     Kind = "ip"
	KindURL    Kind = "url"
	KindDomain Kind = "domain"
)

// kinds are the observable kinds with what each is called in prose.
var kinds = []struct {
	kind Kind
	noun string
}{
	{KindFile, "file hash"},
	{KindIP, "IP address"},
	{KindURL, "URL"},
	{KindDomain, "domain"},
}

// Kinds returns every observable kind: file, ip, url and domain, in that order (the
// order vtsoar lists them in, for example a connection's default reputation checks).
// The slice is the caller's to change.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i, k := range kinds {
		out[i] = k.kind
	}
	return out
}

// Valid reports whether k is one of Kinds. The zero Kind is not valid.
func (k Kind) Valid() bool {
	for _, x := range kinds {
		if x.kind == k {
			return true
		}
	}
	return false
}

// Noun is what an observable of kind k is called in prose: "file hash", "IP address",
// "URL" or "domain"; "observable" for a kind that is not valid.
func (k Kind) Noun() string {
	for _, x := range kinds {
		if x.kind == k {
			return x.noun
		}
	}
	return "observable"
}

// ErrUnknownKind is wrapped by the error of ParseKind for a name that is no kind.
var ErrUnknownKind = errors.New("unknown observable kind")

// ParseKind returns the kind named s, read without regard to case or surrounding
// white space ("File", " ip "). Any other name is an error wrapping ErrUnknownKind
// that lists the kinds: unknown observable kind "email" (file, ip, url or domain).
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	if !k.Valid() {
		return "", unknownKind(s)
	}
	return k, nil
}

// unknownKind is the error of a name that is no kind.
func unknownKind(name string) error {
	return fmt.Errorf("%w %q (%s)", ErrUnknownKind, shorten(name), kindList())
}

// kindList is the kinds for a message: "file, ip, url or domain".
func kindList() string {
	return orList(func(k Kind) string { return string(k) })
}

// nounList is the kinds' nouns for a message: "file hash, IP address, URL or domain".
func nounList() string {
	return orList(Kind.Noun)
}

// orList names every kind with name: "a, b, c or d".
func orList(name func(Kind) string) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = name(k.kind)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
