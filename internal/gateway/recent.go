package gateway

import (
	"container/list"
	"sync"
	"time"
)

// recent keeps the answers the gateway read from the cache or stored last, as
// VirusTotal's bytes, in front of the store's cache: a hit then costs one small read
// of the store (cache.Validator.Current: is the entry still the one kept, that no
// process replaced, pruned or cleared?) instead of reading the answer and
// decompressing it. It is bounded by the bytes it holds, the least recently used going
// first, and safe for concurrent use. Not-found answers are not kept (the store's
// negative TTL decides those).
type recent struct {
	max int

	mu    sync.Mutex
	size  int
	lru   *list.List // of *recentAnswer, most recent first
	byKey map[string]*list.Element
}

type recentAnswer struct {
	key       string
	body      []byte
	fetchedAt time.Time
}

func newRecent(maxBytes int) *recent {
	return &recent{max: maxBytes, lru: list.New(), byKey: map[string]*list.Element{}}
}

// recentKey names an answer: the server's API, the cache entry's kind and the id it
// was asked by.
func recentKey(upBase, kind, id string) string { return upBase + "\x00" + kind + "\x00" + id }

// get returns the answer kept under key.
func (r *recent) get(key string) (recentAnswer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	el, ok := r.byKey[key]
	if !ok {
		return recentAnswer{}, false
	}
	r.lru.MoveToFront(el)
	return *el.Value.(*recentAnswer), true
}

// add keeps body, fetched at fetchedAt, under key (replacing what was there).
func (r *recent) add(key string, body []byte, fetchedAt time.Time) {
	size := len(body) + len(key) + 128
	if size > r.max/8 {
		return // one answer never takes a large part of the room
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.byKey[key]; ok {
		r.removeLocked(el)
	}
	r.byKey[key] = r.lru.PushFront(&recentAnswer{key: key, body: body, fetchedAt: fetchedAt})
	r.size += size
	for r.size > r.max {
		r.removeLocked(r.lru.Back())
	}
}

// remove forgets the answer kept under key.
func (r *recent) remove(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.byKey[key]; ok {
		r.removeLocked(el)
	}
}

func (r *recent) removeLocked(el *list.Element) {
	a := el.Value.(*recentAnswer)
	r.lru.Remove(el)
	delete(r.byKey, a.key)
	r.size -= len(a.body) + len(a.key) + 128
}
