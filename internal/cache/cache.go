// Package cache defines the cache of VirusTotal answers that the commands consult before
// spending a request, an in-memory implementation, and the tier that keeps a process's
// answers decoded in front of a cache shared with other processes (Recent). The
// persistent implementation shared by every process lives in internal/store; a
// connection's client assembles the tiers (internal/connclient), so that a command is
// given one Cache.
//
// Entries are VirusTotal objects (files, URLs, domains, IP addresses) stored under their
// canonical id and every alias (a file's md5, sha1 and sha256; a URL's base64url id and
// its sha256 id form), so that a lookup by any of them hits. Not-found answers are cached
// for a short time; errors are never cached.
package cache

import (
	"context"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/ioc"
)

// Entry is one cached answer.
type Entry struct {
	// Kind is the kind of object.
	Kind ioc.Kind
	// ID is the object's canonical VirusTotal id (a file's sha256, a URL's base64url id,
	// the domain, the IP text).
	ID string
	// Aliases are the other ids the object is known by (md5, sha1, the URL's sha256
	// id...). ID need not be repeated here.
	Aliases []string
	// Body is VirusTotal's untouched response body ({"data": {...}}); empty for NotFound.
	Body []byte
	// NotFound records that VirusTotal answered 404 NotFoundError.
	NotFound bool
	// FetchedAt is when the answer came from VirusTotal.
	FetchedAt time.Time
	// Decoded is Body decoded by the caller that stored it, kept by the caches that
	// hold answers in memory (Memory, a Recent's tier) so that a later Get need not
	// decode Body again; nil when the cache does not keep it.
	Decoded any
}

// Cache stores VirusTotal answers. Implementations are safe for concurrent use.
type Cache interface {
	// Get returns the entry known by id (canonical or alias) for kind, if it was
	// fetched no longer than maxAge ago (maxAge <= 0: any age). A NotFound entry is
	// only returned while it is younger than the implementation's negative TTL.
	Get(ctx context.Context, kind ioc.Kind, id string, maxAge time.Duration) (Entry, bool, error)
	// Put stores e under e.ID and every alias, replacing what they pointed to.
	Put(ctx context.Context, e Entry) error
}

// DefaultNegativeTTL is how long a not-found answer is kept.
const DefaultNegativeTTL = 10 * time.Minute

// Memory is an in-process Cache, for one run of the CLI without a store and for tests.
type Memory struct {
	// NegativeTTL bounds the age of NotFound entries (0: DefaultNegativeTTL).
	NegativeTTL time.Duration
	// Now returns the current time (nil: time.Now).
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]*Entry // "kind\x00id" for the id and every alias
}

// NewMemory returns an empty in-memory cache.
func NewMemory() *Memory { return &Memory{} }

func key(kind ioc.Kind, id string) string { return string(kind) + "\x00" + id }

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Get implements Cache.
func (m *Memory) Get(_ context.Context, kind ioc.Kind, id string, maxAge time.Duration) (Entry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key(kind, id)]
	if !ok {
		return Entry{}, false, nil
	}
	age := m.now().Sub(e.FetchedAt)
	if maxAge > 0 && age > maxAge {
		return Entry{}, false, nil
	}
	if e.NotFound {
		ttl := m.NegativeTTL
		if ttl <= 0 {
			ttl = DefaultNegativeTTL
		}
		if age > ttl {
			return Entry{}, false, nil
		}
	}
	return *e, true, nil
}

// Put implements Cache.
func (m *Memory) Put(_ context.Context, e Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = make(map[string]*Entry)
	}
	stored := e
	stored.Aliases = append([]string(nil), e.Aliases...)
	stored.Body = append([]byte(nil), e.Body...)
	m.entries[key(e.Kind, e.ID)] = &stored
	for _, a := range e.Aliases {
		m.entries[key(e.Kind, a)] = &stored
	}
	return nil
}

// Validator is implemented by caches shared with other processes whose entries a
// process may keep decoded in memory (Recent): Current reports whether id
// still leads to the entry fetched at fetchedAt, that is, whether no process has
// replaced, pruned or cleared it since. It reads only that, not the answer, and counts
// as a hit of the cache when the entry is current.
type Validator interface {
	Current(ctx context.Context, kind ioc.Kind, id string, fetchedAt time.Time) (bool, error)
}

// HitCounter is implemented by shared caches that count their hits (a store's
// statistics): a Recent that answers one of their entries from memory without asking
// them (WithRecheck) counts the hit there.
type HitCounter interface {
	CountHit()
}

// NegativeTTLer is implemented by shared caches that bound the age of their not-found
// answers themselves: a Recent keeps those answers too, no longer than NegativeTTL.
type NegativeTTLer interface {
	NegativeTTL() time.Duration
}
