package command

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/ioc"
)

// Recent keeps the reports a process fetched or read from its cache last, decoded,
// in front of a cache shared with other processes (Deps.Recent): a lookup that finds
// its report here costs one small read of the shared cache, which checks that the
// entry is still the one kept (cache.Validator: no process replaced, pruned or
// cleared it), instead of reading the whole answer and decoding it again. It is
// bounded by the size of the answers it holds, the least recently used going first,
// and safe for concurrent use. A service answering the same observables over and over
// (REST, enrichment) keeps one for the process; a single CLI run has no use for it.
type Recent struct {
	max int

	mu    sync.Mutex
	size  int
	lru   *list.List // of *recentEntry, most recent first
	names map[string]*list.Element
}

type recentEntry struct {
	obj       *object
	fetchedAt time.Time
	keys      []string
	size      int
	el        *list.Element // nil once removed
}

// NewRecent returns a Recent holding answers of up to maxBytes in all.
func NewRecent(maxBytes int) *Recent {
	return &Recent{max: maxBytes, lru: list.New(), names: make(map[string]*list.Element)}
}

func recentKey(server string, kind ioc.Kind, id string) string {
	return server + "\x00" + string(kind) + "\x00" + id
}

// get returns the report id leads to on server if it is kept, younger than maxAge
// (<= 0: any age) at now, and still current in c.
func (rc *Recent) get(ctx context.Context, c cache.Validator, server string, kind ioc.Kind, id string, maxAge time.Duration, now time.Time) (*object, bool) {
	rc.mu.Lock()
	el, ok := rc.names[recentKey(server, kind, id)]
	var e *recentEntry
	if ok {
		e = el.Value.(*recentEntry)
		rc.lru.MoveToFront(el)
	}
	rc.mu.Unlock()
	if !ok || (maxAge > 0 && now.Sub(e.fetchedAt) > maxAge) {
		return nil, false
	}
	if cur, err := c.Current(ctx, kind, id, e.fetchedAt); err != nil || !cur {
		if err == nil {
			rc.remove(e)
		}
		return nil, false
	}
	return e.obj, true
}

// add keeps obj, fetched at fetchedAt, under names (its id and aliases) on server.
func (rc *Recent) add(server string, obj *object, fetchedAt time.Time, names []string) {
	size := len(obj.raw) + 512
	if size > rc.max/8 {
		return // one answer never takes a large part of the room
	}
	e := &recentEntry{obj: obj, fetchedAt: fetchedAt, size: size}
	for _, n := range names {
		if n != "" {
			e.keys = append(e.keys, recentKey(server, obj.Kind, n))
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, k := range e.keys {
		if el, ok := rc.names[k]; ok {
			rc.removeLocked(el.Value.(*recentEntry))
		}
	}
	e.el = rc.lru.PushFront(e)
	for _, k := range e.keys {
		rc.names[k] = e.el
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
