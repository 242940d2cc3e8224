package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/store"
)

// keyMemo is a gateway key the store gave, with its connection, and when.
type keyMemo struct {
	key  store.GatewayKey
	up   *Upstream
	read time.Time
}

// keyMemos are the keys of the cacheable GETs of the last Config.Recheck, by the
// SHA-256 of the key: only keys the store found, so it holds no more than there are.
type keyMemos struct {
	mu sync.Mutex
	m  map[string]keyMemo
	// gen counts the forgets: a key read before one is not kept after it.
	gen uint64
}

// fresh returns the key of hash if the store gave it less than every before now.
func (ms *keyMemos) fresh(hash []byte, now time.Time, every time.Duration) (keyMemo, bool) {
	ms.mu.Lock()
	m, ok := ms.m[string(hash)]
	ms.mu.Unlock()
	return m, ok && now.Sub(m.read) < every
}

// generation returns the count of forgets, to give keep with what is read after it.
func (ms *keyMemos) generation() uint64 {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.gen
}

// keep notes that the store gave k and up for hash at now, or (up nil) gave nothing,
// in a read that began at generation gen: a read that a forget overtook is not kept.
func (ms *keyMemos) keep(gen uint64, hash []byte, k store.GatewayKey, up *Upstream, now time.Time) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if gen != ms.gen {
		return
	}
	if up == nil {
		delete(ms.m, string(hash))
		return
	}
	if ms.m == nil {
		ms.m = make(map[string]keyMemo)
	}
	ms.m[string(hash)] = keyMemo{key: k, up: up, read: now}
}

// forget drops every key: the next request of each reads the store.
func (ms *keyMemos) forget() {
	ms.mu.Lock()
	clear(ms.m)
	ms.gen++
	ms.mu.Unlock()
}

// Forget makes the next request of every key read the store: a key was removed, or a
// connection changed, through this process, which serves that change at once (other
// processes within Config.Recheck).
func (g *Gateway) Forget() { g.keys.forget() }

// readKey finds the key of a cacheable GET of c and its connection: as the store gave
// it within Config.Recheck, else from the store (Config.KeyFor, which reads with it
// the stamp of the cached answer); the context it returns lets the cache answer what
// the store confirmed within Config.Recheck (cache.WithRecheck).
func (g *Gateway) readKey(ctx context.Context, c *call) (context.Context, store.GatewayKey, *Upstream, error) {
	hash := auth.HashToken(c.given)
	now := g.now()
	every := g.cfg.Recheck
	if every > 0 {
		if m, ok := g.keys.fresh(hash, now, every); ok {
			c.remembered = true
			return cache.WithRecheck(ctx, now, every), m.key, m.up, nil
		}
	}
	gen := g.keys.generation()
	kind, id := c.cacheKey()
	kctx, k, up, err := g.cfg.KeyFor(ctx, hash, kind, id)
	if kctx != nil {
		ctx = kctx
	}
	if every <= 0 {
		return ctx, k, up, err
	}
	if err != nil {
		up = nil
	}
	g.keys.keep(gen, hash, k, up, now)
	return cache.WithRecheck(ctx, now, every), k, up, err
}

// confirmKey reads c's key from the store again when it was remembered (readKey), so
// that a key removed by another process spends nothing of the budget: nil when the
// store still has it, else the refusal to answer.
func (g *Gateway) confirmKey(ctx context.Context, c *call) *refusal {
	if !c.remembered {
		return nil
	}
	hash := auth.HashToken(c.given)
	gen := g.keys.generation()
	k, up, err := g.cfg.Key(ctx, hash)
	if err != nil {
		up = nil
	}
	g.keys.keep(gen, hash, k, up, g.now())
	return g.keyFound(ctx, c, k, up, err)
}
