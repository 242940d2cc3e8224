package cache

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vtsoar/vtsoar/ioc"
)

// Recent keeps the answers a process read from its shared caches or stored in them
// last, decoded, in front of those caches (Tier): a lookup that finds its answer here
// costs one small read of the shared cache, which checks that the entry is still the
// one kept (Validator: no process replaced, pruned or cleared it), instead of reading
// the whole answer and decoding it again; none when the lookup's context allows an
// entry confirmed a moment ago (WithRecheck). It is bounded by the size of the
// answers it holds, the least recently used going first, and safe for concurrent use. A service
// answering the same observables over and over (REST, enrichment) keeps one for the
// process, in front of the caches of all its connections; a single CLI run has no use
// for it.
type Recent struct {
	// Now returns the current time (nil: time.Now).
	Now func() time.Time

	max int

	mu    sync.Mutex
	size  int
	lru   *list.List // of *recentEntry, most recent first
	names map[string]*list.Element
}

type recentEntry struct {
	e    Entry
	keys []string
	size int
	el   *list.Element // nil once removed
	// confirmed is when the shared cache last said it holds e (it was read, stored
	// or found current), in Unix nanoseconds.
	confirmed atomic.Int64
}

// recheckKey is the context key of WithRecheck's recheck.
type recheckKey struct{}

// recheck is WithRecheck's: what a Get made with it takes as the time, and how long
// an entry's confirmation stands.
type recheck struct {
	now   time.Time
	every time.Duration
}

// WithRecheck returns ctx under which a Get of a Tier answers from memory, without
// asking its shared cache, an entry that cache confirmed (it was read from it, stored
// in it, or found current) less than every before now; an older confirmation is
// checked again (Validator.Current). A change another process made to the shared
// cache is then seen within every. Confirmations made under it are dated now.
// Without it (or with every <= 0) each Get asks the shared cache.
func WithRecheck(ctx context.Context, now time.Time, every time.Duration) context.Context {
	return context.WithValue(ctx, recheckKey{}, recheck{now: now, every: every})
}

// recheckOf returns the recheck of ctx (the zero one without WithRecheck), and the
// time it takes as now (rc's clock without one).
func (rc *Recent) recheckOf(ctx context.Context) (recheck, time.Time) {
	if r, ok := ctx.Value(recheckKey{}).(recheck); ok {
		return r, r.now
	}
	return recheck{}, rc.now()
}

// NewRecent returns a Recent holding answers of up to maxBytes in all.
func NewRecent(maxBytes int) *Recent {
	return &Recent{max: maxBytes, lru: list.New(), names: make(map[string]*list.Element)}
}

// Decoder decodes an answer's body, for the Decoded of the entries a Recent keeps.
type Decoder func(kind ioc.Kind, body []byte) (any, error)

// Tier returns c with the answers of rc in front of it, those of c kept under scope
// (c's server): a Get answered by c, or a Put, keeps its answer (decoded by decode,
// when not nil, if its entry has no Decoded and its body decodes), and a later Get of
// any of its ids is answered from memory while c says the entry is current. Not-found
// answers are kept when c says how long they live (NegativeTTLer), for no longer. A c
// that is no Validator (its entries cannot be checked) is returned as it is.
func (rc *Recent) Tier(c Cache, scope string, decode Decoder) Cache {
	v, ok := c.(Validator)
	if !ok {
		return c
	}
	t := &recentTier{rc: rc, c: c, v: v, scope: scope, decode: decode}
	t.hc, _ = c.(HitCounter)
	if n, ok := c.(NegativeTTLer); ok {
		t.negativeTTL = n.NegativeTTL()
	}
	return t
}

type recentTier struct {
	rc     *Recent
	c      Cache
	v      Validator
	hc     HitCounter // nil: c counts no hits
	scope  string
	decode Decoder
	// negativeTTL is how long c keeps a not-found answer (0: such answers are not
	// kept here).
	negativeTTL time.Duration
}

// keeps reports whether e is kept in memory.
func (t *recentTier) keeps(e Entry) bool { return !e.NotFound || t.negativeTTL > 0 }

// Get implements Cache.
func (t *recentTier) Get(ctx context.Context, kind ioc.Kind, id string, maxAge time.Duration) (Entry, bool, error) {
	if e, ok, unasked := t.rc.get(ctx, t.v, t.scope, kind, id, maxAge, t.negativeTTL); ok {
		if unasked && t.hc != nil {
			t.hc.CountHit()
		}
		return e, true, nil
	}
	e, ok, err := t.c.Get(ctx, kind, id, maxAge)
	if err != nil || !ok || !t.keeps(e) {
		return e, ok, err
	}
	if !e.NotFound && e.Decoded == nil && t.decode != nil {
		if d, derr := t.decode(kind, e.Body); derr == nil {
			e.Decoded = d
		}
	}
	_, now := t.rc.recheckOf(ctx)
	t.rc.add(t.scope, e, now)
	return e, true, nil
}

// Put implements Cache.
func (t *recentTier) Put(ctx context.Context, e Entry) error {
	if err := t.c.Put(ctx, e); err != nil {
		return err
	}
	if t.keeps(e) {
		_, now := t.rc.recheckOf(ctx)
		t.rc.add(t.scope, e, now)
	}
	return nil
}

func (rc *Recent) now() time.Time {
	if rc.Now != nil {
		return rc.Now()
	}
	return time.Now()
}

func recentKey(scope string, kind ioc.Kind, id string) string {
	return scope + "\x00" + string(kind) + "\x00" + id
}

// get returns the entry id leads to in scope if it is kept, younger than maxAge
// (<= 0: any age) and, when it is a not-found answer, than negativeTTL, and still
// current in c: confirmed within ctx's WithRecheck (then unasked: c was not asked), or
// found current by c now.
func (rc *Recent) get(ctx context.Context, c Validator, scope string, kind ioc.Kind, id string, maxAge, negativeTTL time.Duration) (_ Entry, ok, unasked bool) {
	rc.mu.Lock()
	el, ok := rc.names[recentKey(scope, kind, id)]
	var e *recentEntry
	if ok {
		e = el.Value.(*recentEntry)
		rc.lru.MoveToFront(el)
	}
	rc.mu.Unlock()
	if !ok {
		return Entry{}, false, false
	}
	if age := rc.now().Sub(e.e.FetchedAt); (maxAge > 0 && age > maxAge) || (e.e.NotFound && age > negativeTTL) {
		return Entry{}, false, false
	}
	r, now := rc.recheckOf(ctx)
	if r.every > 0 && now.Sub(time.Unix(0, e.confirmed.Load())) < r.every {
		return e.e, true, true
	}
	if cur, err := c.Current(ctx, kind, id, e.e.FetchedAt); err != nil || !cur {
		if err == nil {
			rc.remove(e)
		}
		return Entry{}, false, false
	}
	e.confirmed.Store(now.UnixNano())
	return e.e, true, false
}

// add keeps e under its id and aliases in scope, confirmed at now.
func (rc *Recent) add(scope string, e Entry, now time.Time) {
	size := len(e.Body) + 512
	if size > rc.max/8 {
		return // one answer never takes a large part of the room
	}
	re := &recentEntry{e: e, size: size}
	re.confirmed.Store(now.UnixNano())
	for _, n := range append([]string{e.ID}, e.Aliases...) {
		if n != "" {
			re.keys = append(re.keys, recentKey(scope, e.Kind, n))
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, k := range re.keys {
		if el, ok := rc.names[k]; ok {
			rc.removeLocked(el.Value.(*recentEntry))
		}
	}
	re.el = rc.lru.PushFront(re)
	for _, k := range re.keys {
		rc.names[k] = re.el
	}
	rc.size += size
	for rc.size > rc.max {
		rc.removeLocked(rc.lru.Back().Value.(*recentEntry))
	}
}

func (rc *Recent) remove(e *recentEntry) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.removeLocked(e)
}

// removeLocked forgets e, if still kept, under every name.
func (rc *Recent) removeLocked(e *recentEntry) {
	if e.el == nil {
		return
	}
	for _, k := range e.keys {
		if rc.names[k] == e.el {
			delete(rc.names, k)
		}
	}
	rc.lru.Remove(e.el)
	e.el = nil
	rc.size -= e.size
}
