package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// Caches gives the cache of answers of one VirusTotal server.
type Caches interface {
	// Cache returns the cache of answers from the server at serverURL. Answers from
	// different servers (VirusTotal and an emulator, say) never mix. The URL is
	// normalised (case of scheme and host, trailing slash).
	Cache(serverURL string) Cache
	// CacheNoWait is Cache(serverURL) with puts that return before their answer is
	// written: a shared transaction writes it within 50 ms with the others (a write
	// that fails keeps the answer, as Cache's puts do), and the store's Close writes
	// what is left (and reports an answer it could not write). For a
	// process to which its cache is a saving across runs and nothing more, on a key
	// whose requests are not scarce: killed, it loses the answers of its last 50 ms
	// or so, which a later run asks again. Not for the enrichment, whose resumption
	// after a kill counts on an answer it received being stored.
	CacheNoWait(serverURL string) Cache
	// CacheBehind is Cache(serverURL) with puts that return once their answer is
	// held in this process's backlog, before it is written: Get and Current of this
	// process find it there at once, a shared transaction writes it at once (not held
	// back as CacheNoWait's), a write that fails leaves it kept and tried again as a
	// put's whose write failed, and Close writes what is left. Other processes find
	// it once the write lands. A put finding the backlog full is written before it
	// returns. For a service that answers before the write lands (the VirusTotal
	// gateway on an unlimited budget): killed, it loses the answers of the
	// transaction in flight, a millisecond or so.
	CacheBehind(serverURL string) Cache
	// CacheServers lists the servers that have cached answers.
	CacheServers(ctx context.Context) ([]string, error)
	// CacheBacklog describes the answers this process keeps in memory because their
	// write failed: a put whose write fails keeps its answer, which the cache gives
	// in this process until a writer of the store's writes it, as soon as the
	// database answers again, and Close writes what is left (see Cache.Put).
	CacheBacklog() CacheBacklog
}

// Cache is the cache of one server's answers.
type Cache interface {
	cache.Cache
	// A process may keep answers decoded in memory and check them with Current.
	cache.Validator
	// Stats returns the cache's size and its hits and misses (recorded by every
	// process).
	Stats(ctx context.Context) (CacheStats, error)
	// Clear removes every entry and resets the statistics; it returns the number of
	// entries removed.
	Clear(ctx context.Context) (int, error)
	// Prune removes entries fetched before before; it returns their number.
	Prune(ctx context.Context, before time.Time) (int, error)
}

// CacheStats describes a server's cache.
type CacheStats struct {
	// Server is the normalised server URL.
	Server string
	// Entries is the number of cached answers, NotFound the number of them that
	// record a not-found answer, Aliases the number of ids that lead to them.
	Entries, NotFound, Aliases int
	// Bytes is the size of the cached bodies as stored (compressed, see
	// migrations/*/0210_cache_body_encoding.sql).
	Bytes int64
	// Hits and Misses count Get calls that found a usable entry or did not.
	Hits, Misses int64
	// Oldest and Newest are the fetch times of the oldest and newest entries.
	Oldest, Newest time.Time
}

// NormalizeServerURL returns the form of a server URL that scopes a cache: scheme and
// host in lower case, no trailing slash; empty is VirusTotal's server.
func NormalizeServerURL(serverURL string) string {
	s := strings.TrimSpace(serverURL)
	if s == "" {
		s = vt.DefaultServerURL
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return strings.TrimRight(s, "/")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

const cacheGetSQL = `SELECT e.id, e.aliases, e.body, e.body_encoding, e.not_found, e.fetched_at
FROM cache_aliases a JOIN cache_entries e ON e.server = a.server AND e.kind = a.kind AND e.id = a.id
WHERE a.server = ? AND a.kind = ? AND a.alias = ?`

// Cache implements Caches.
func (s *sqlStore) Cache(serverURL string) Cache { return s.cache(serverURL) }

// cache returns the cache of serverURL's answers, made on first use.
func (s *sqlStore) cache(serverURL string) *sqlCache {
	server := NormalizeServerURL(serverURL)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.caches[server]
	if !ok {
		c = &sqlCache{s: s, server: server}
		s.caches[server] = c
	}
	return c
}

// CacheNoWait implements Caches.
func (s *sqlStore) CacheNoWait(serverURL string) Cache {
	return noWaitCache{s.cache(serverURL)}
}

// noWaitCache is a server's cache whose puts do not wait for their write.
type noWaitCache struct{ *sqlCache }

// Put implements cache.Cache without waiting for the write.
func (c noWaitCache) Put(ctx context.Context, e cache.Entry) error { return c.putEntry(ctx, e, true) }

// CacheBehind implements Caches.
func (s *sqlStore) CacheBehind(serverURL string) Cache {
	return behindCache{s.cache(serverURL)}
}

// behindCache is a server's cache whose puts are written behind (CacheBehind).
type behindCache struct{ *sqlCache }

// Put implements cache.Cache: e is held in the backlog and its write queued.
func (c behindCache) Put(ctx context.Context, e cache.Entry) error {
	if e.ID == "" || e.Kind == "" {
		return errors.New("store: cache put: entry without kind or id")
	}
	if e.FetchedAt.IsZero() {
		e.FetchedAt = c.now()
	}
	kp, ok := c.s.backlog.hold(c.sqlCache, e)
	if !ok {
		return c.putEntry(ctx, e, false)
	}
	op, release := c.putOp(kp.e, false, false)
	op.after = func(err error) {
		release()
		c.s.backlog.settleBehind(kp, err)
	}
	c.s.batch.submit(op)
	return nil
}

// CacheServers implements Caches.
func (s *sqlStore) CacheServers(ctx context.Context) ([]string, error) {
	out, err := queryAll(ctx, s.db, func(r rowScanner) (string, error) {
		var v string
		return v, r.Scan(&v)
	}, `SELECT DISTINCT server FROM cache_entries ORDER BY server`)
	if err != nil {
		return nil, fmt.Errorf("store: cache: %w", err)
	}
	return out, nil
}

// sqlCache is one server's cache. Hits and misses are counted in memory and added
// to cache_counters by flush (on Stats, Clear and Close), so that a lookup stays a
// read.
//
// On PostgreSQL a put locks only the names it writes (see writeKeyed), so that the
// puts of different objects run at once. What runs beside a put without waiting for
// it (Clear, Prune, a put of another object that takes over one of its entry's
// aliases) can at worst leave an alias without its entry or an entry without
// aliases: both read as a miss, never as another object's answer.
type sqlCache struct {
	s      *sqlStore
	server string

	hits, misses atomic.Int64
}

func (c *sqlCache) now() time.Time { return c.s.opts.now() }

// NegativeTTL implements cache.NegativeTTLer: how long a not-found answer is served.
func (c *sqlCache) NegativeTTL() time.Duration {
	if c.s.opts.NegativeTTL > 0 {
		return c.s.opts.NegativeTTL
	}
	return cache.DefaultNegativeTTL
}

// Get implements cache.Cache.
func (c *sqlCache) Get(ctx context.Context, kind ioc.Kind, id string, maxAge time.Duration) (cache.Entry, bool, error) {
	var (
		e        cache.Entry
		aliases  string
		encoding string
		notFound int
		fetched  int64
	)
	if e, ok := c.s.backlog.get(c.server, kind, id); ok {
		// Kept in memory until the database takes it: newer than what it holds.
		if age := c.now().Sub(e.FetchedAt); (maxAge <= 0 || age <= maxAge) && (!e.NotFound || age <= c.NegativeTTL()) {
			if len(e.Body) == 0 {
				e.Body = nil
			}
			c.hits.Add(1)
			return e, true, nil
		}
	}
	stmt, err := c.s.stmt(ctx, cacheGetSQL)
	if err != nil {
		return cache.Entry{}, false, fmt.Errorf("store: cache get: %w", err)
	}
	err = stmt.QueryRowContext(ctx, c.server, string(kind), id).Scan(&e.ID, &aliases, &e.Body, &encoding, &notFound, &fetched)
	if errors.Is(err, sql.ErrNoRows) {
		c.misses.Add(1)
		return cache.Entry{}, false, nil
	}
	if err != nil {
		return cache.Entry{}, false, fmt.Errorf("store: cache get: %w", err)
	}
	e.Kind, e.NotFound, e.FetchedAt = kind, notFound != 0, fromMicros(fetched)
	age := c.now().Sub(e.FetchedAt)
	if (maxAge > 0 && age > maxAge) || (e.NotFound && age > c.NegativeTTL()) {
		c.misses.Add(1)
		return cache.Entry{}, false, nil
	}
	if err := json.Unmarshal([]byte(aliases), &e.Aliases); err != nil {
		return cache.Entry{}, false, fmt.Errorf("store: cache get: aliases: %w", err)
	}
	if e.Body, err = decodeBody(e.Body, encoding); err != nil {
		return cache.Entry{}, false, fmt.Errorf("store: cache get: %s: %w", id, err)
	}
	if len(e.Body) == 0 {
		e.Body = nil
	}
	c.hits.Add(1)
	return e, true, nil
}

// Bodies of cached answers are stored compressed with S2 (body_encoding 's2') when
// that saves at least a tenth: VirusTotal's JSON shrinks three- to fivefold, so an
// answer takes a page or two instead of half a dozen, each of which SQLite writes
// twice (journal, then database). S2 compresses at about 2 GB/s and decompresses
// faster: a small part of what the pages it saves cost. A body shorter than
// compressMin is stored as it is.
const (
	encodingS2  = "s2"
	compressMin = 1024
)

// encodeBody returns the stored form of body and its encoding; a compressed form is
// written into dst when it has room.
func encodeBody(dst, body []byte) ([]byte, string) {
	if len(body) < compressMin {
		return body, ""
	}
	if n := s2.MaxEncodedLen(len(body)); cap(dst) < n {
		dst = make([]byte, n)
	}
	enc := s2.Encode(dst[:cap(dst)], body)
	if len(enc) > len(body)-len(body)/10 {
		return body, ""
	}
	return enc, encodingS2
}

// decodeBody returns the body that stored (in encoding) stands for.
func decodeBody(stored []byte, encoding string) ([]byte, error) {
	switch encoding {
	case "":
		return stored, nil
	case encodingS2:
		b, err := s2.Decode(nil, stored)
		if err != nil {
			return nil, fmt.Errorf("compressed answer: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("answer stored in an unknown encoding %q (written by a newer vtsoar?)", encoding)
}

// cacheCurrentSQL reads an entry's fetch time, for Current. A dialect may say which
// index to read it from (sqlite.go's cacheCurrentSQLite).
const cacheCurrentSQL = `SELECT e.fetched_at FROM cache_aliases a JOIN cache_entries e
ON e.server = a.server AND e.kind = a.kind AND e.id = a.id
WHERE a.server = ? AND a.kind = ? AND a.alias = ?`

var (
	_ cache.Validator     = (*sqlCache)(nil)
	_ cache.HitCounter    = (*sqlCache)(nil)
	_ cache.NegativeTTLer = (*sqlCache)(nil)
)

// CacheStamp is the fetch time of a server's cached answer as read along with a
// gateway key (GatewayKeys.GatewayKeyCacheStamp), or the lack of one. The zero
// CacheStamp was not read.
type CacheStamp struct {
	server  string // normalised; "" when not read
	kind    ioc.Kind
	id      string
	fetched int64 // microseconds
	found   bool
}

// Read reports whether s was read: the server asked was the key's connection's.
func (s CacheStamp) Read() bool { return s.server != "" }

type cacheStampKey struct{}

// Context returns ctx carrying s (ctx itself when s was not read): a Current of its
// entry in its server's cache with that context, by the id it was read by, takes s
// instead of reading the store again. It is for the request it was read for, which
// checks its answer at once.
func (s CacheStamp) Context(ctx context.Context) context.Context {
	if !s.Read() {
		return ctx
	}
	return context.WithValue(ctx, cacheStampKey{}, s)
}

// CountHit implements cache.HitCounter: a hit answered from a process's memory without
// asking the store counts in Stats as one that asked.
func (c *sqlCache) CountHit() { c.hits.Add(1) }

// Current implements cache.Validator.
func (c *sqlCache) Current(ctx context.Context, kind ioc.Kind, id string, fetchedAt time.Time) (bool, error) {
	if at, ok := c.s.backlog.keptAt(c.server, kind, id); ok {
		if micros(at) != micros(fetchedAt) {
			return false, nil
		}
		c.hits.Add(1)
		return true, nil
	}
	var fetched int64
	if st, ok := ctx.Value(cacheStampKey{}).(CacheStamp); ok && st.server == c.server && st.kind == kind && st.id == id {
		if !st.found {
			return false, nil
		}
		fetched = st.fetched
	} else {
		err := c.s.queryRow(ctx, c.s.dialect.cacheCurrentSQL(), c.server, string(kind), id).Scan(&fetched)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("store: cache: %w", err)
		}
	}
	if fetched != micros(fetchedAt) {
		return false, nil
	}
	c.hits.Add(1)
	return true, nil
}

// Put implements cache.Cache. It returns once the answer is written or, when the
// write failed, kept in memory to be written when the database answers again (see
// backlog): an answer that cost a request is not dropped because the store missed a
// beat.
func (c *sqlCache) Put(ctx context.Context, e cache.Entry) error { return c.putEntry(ctx, e, false) }

// putEntry stores e; with noWait it returns once the write is queued (CacheNoWait).
func (c *sqlCache) putEntry(ctx context.Context, e cache.Entry, noWait bool) error {
	if e.ID == "" || e.Kind == "" {
		return errors.New("store: cache put: entry without kind or id")
	}
	if e.FetchedAt.IsZero() {
		e.FetchedAt = c.now()
	}
	op, release := c.putOp(e, noWait, false)
	if noWait {
		op.after = func(err error) {
			release()
			c.settled(e, err)
		}
		op.lazy, op.hold = true, asyncPutDelay
		if c.s.batch.async(op) {
			return nil
		}
		op.after, op.lazy, op.hold = nil, false, 0
	}
	written, err := c.s.batch.do(ctx, op)
	if !written {
		// The caller gave up; the write goes on, and a failure of it is kept.
		go func() { c.settled(e, <-op.done) }()
		return fmt.Errorf("store: cache put: %w", err)
	}
	release()
	if err != nil {
		if c.s.backlog.keep(c, e, err) {
			return nil
		}
		return fmt.Errorf("store: cache put: %w", err)
	}
	c.s.backlog.stored(c, e)
	return nil
}

// settled takes the outcome of a put that its caller no longer waits for: a failure
// is kept in the backlog, a success makes the older answers of the object kept there
// moot.
func (c *sqlCache) settled(e cache.Entry, err error) {
	if err != nil {
		if !c.s.backlog.keep(c, e, err) {
			c.s.batch.lostPut(err)
		}
		return
	}
	c.s.backlog.stored(c, e)
}

// putOp returns the batch write of e (its FetchedAt set) and the function that gives
// its compression buffer back once the write is done. copyBody copies a body that is
// not compressed (a put its caller does not wait for outlives the caller's slice);
// deferred makes the write leave alone an answer of the object fetched after e's (a
// kept answer written late by the backlog).
func (c *sqlCache) putOp(e cache.Entry, copyBody, deferred bool) (*batchOp, func()) {
	names := entryNames(e)
	aliasJSON, _ := json.Marshal(names[1:])
	notFound := 0
	if e.NotFound {
		notFound = 1
	}
	kind := string(e.Kind)
	// The transaction reads and writes the aliases of names, and the entries they lead
	// to, under the names' keys: another put of one of these names waits; puts of
	// other names run beside it.
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = "cache\x00" + c.server + "\x00" + kind + "\x00" + n
	}
	// Compressed here, in the caller's goroutine, not in the batch's transaction, into
	// a buffer used again once the put is written.
	buf := encodeBuffers.Get().(*[]byte)
	body, encoding := encodeBody(*buf, e.Body)
	size := len(body)
	for _, n := range names {
		size += len(n)
	}
	release := func() {
		if encoding != "" {
			*buf = body[:0]
			encodeBuffers.Put(buf)
		}
	}
	if copyBody && encoding == "" {
		body = bytes.Clone(body)
	}
	return &batchOp{keys: keys, size: size, apply: func(ctx context.Context, tx *sql.Tx) error {
		if deferred {
			newer, err := c.newerStored(ctx, tx, kind, names, e.FetchedAt)
			if err != nil || newer {
				return err
			}
		}
		return c.put(ctx, tx, e, kind, names, string(aliasJSON), body, encoding, notFound)
	}}, release
}

// entryNames returns the ids e is stored under: its id first, then its aliases without
// repeats or empty ones.
func entryNames(e cache.Entry) []string {
	names := []string{e.ID}
	for _, a := range e.Aliases {
		if a != "" && !contains(names, a) {
			names = append(names, a)
		}
	}
	return names
}

// cacheNewerSQL finds an entry that one of n names leads to, fetched after a time.
func cacheNewerSQL(n int) string {
	return `SELECT 1 FROM cache_aliases a JOIN cache_entries e ON e.server = a.server AND e.kind = a.kind AND e.id = a.id
WHERE a.server = ? AND a.kind = ? AND e.fetched_at > ? AND a.alias IN (?` + strings.Repeat(", ?", n-1) + `)`
}

// newerStored reports whether one of names leads to an answer fetched after at.
func (c *sqlCache) newerStored(ctx context.Context, tx *sql.Tx, kind string, names []string, at time.Time) (bool, error) {
	args := []any{c.server, kind, micros(at)}
	for _, n := range names {
		args = append(args, n)
	}
	rows, err := tx.QueryContext(ctx, cacheNewerSQL(len(names)), args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	found := rows.Next()
	return found, rows.Err()
}

// encodeBuffers holds the buffers answers are compressed into.
var encodeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// The statements of a put.
const (
	cacheEntryPutSQL = `INSERT INTO cache_entries (server, kind, id, aliases, body, body_encoding, not_found, fetched_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (server, kind, id) DO UPDATE SET aliases = excluded.aliases, body = excluded.body,
body_encoding = excluded.body_encoding, not_found = excluded.not_found, fetched_at = excluded.fetched_at`
	cacheOrphanDeleteSQL = `DELETE FROM cache_entries WHERE server = ? AND kind = ? AND id = ?
AND NOT EXISTS (SELECT 1 FROM cache_aliases WHERE server = ? AND kind = ? AND id = ?)`
)

// cacheTargetsSQL selects the entries n names lead to.
func cacheTargetsSQL(n int) string {
	// Not DISTINCT: SQLite would then walk the (server, kind, id) index, every alias
	// of the server, instead of looking the names up.
	return `SELECT id FROM cache_aliases WHERE server = ? AND kind = ? AND alias IN (?` +
		strings.Repeat(", ?", n-1) + `)`
}

// cacheAliasesPutSQL points n names at an entry.
func cacheAliasesPutSQL(n int) string {
	return `INSERT INTO cache_aliases (server, kind, alias, id) VALUES (?, ?, ?, ?)` +
		strings.Repeat(", (?, ?, ?, ?)", n-1) + `
ON CONFLICT (server, kind, alias) DO UPDATE SET id = excluded.id`
}

// put writes e under names (its id and aliases, without repeats) in tx.
func (c *sqlCache) put(ctx context.Context, tx *sql.Tx, e cache.Entry, kind string, names []string, aliasJSON string, body []byte, encoding string, notFound int) error {
	targets, err := c.s.txStmt(ctx, tx, cacheTargetsSQL(len(names)))
	if err != nil {
		return err
	}
	args := []any{c.server, kind}
	for _, n := range names {
		args = append(args, n)
	}
	rows, err := targets.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	// Entries the names pointed to before; dropped below if nothing leads to them.
	var old []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		if id != e.ID && !contains(old, id) {
			old = append(old, id)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	entry, err := c.s.txStmt(ctx, tx, cacheEntryPutSQL)
	if err != nil {
		return err
	}
	if _, err := entry.ExecContext(ctx, c.server, kind, e.ID, aliasJSON, body, encoding, notFound, micros(e.FetchedAt)); err != nil {
		return err
	}
	alias, err := c.s.txStmt(ctx, tx, cacheAliasesPutSQL(len(names)))
	if err != nil {
		return err
	}
	args = args[:0]
	for _, n := range names {
		args = append(args, c.server, kind, n, e.ID)
	}
	if _, err := alias.ExecContext(ctx, args...); err != nil {
		return err
	}
	if len(old) == 0 {
		return nil
	}
	orphan, err := c.s.txStmt(ctx, tx, cacheOrphanDeleteSQL)
	if err != nil {
		return err
	}
	for _, id := range old {
		if _, err := orphan.ExecContext(ctx, c.server, kind, id, c.server, kind, id); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// flush adds the counted hits and misses to cache_counters.
func (c *sqlCache) flush(ctx context.Context) error {
	h, m := c.hits.Swap(0), c.misses.Swap(0)
	if h == 0 && m == 0 {
		return nil
	}
	err := c.s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cache_counters (server, hits, misses) VALUES (?, ?, ?)
ON CONFLICT (server) DO UPDATE SET hits = cache_counters.hits + excluded.hits,
misses = cache_counters.misses + excluded.misses`, c.server, h, m)
		return err
	})
	if err != nil {
		c.hits.Add(h)
		c.misses.Add(m)
		return fmt.Errorf("store: cache counters: %w", err)
	}
	return nil
}

// Stats implements Cache.
func (c *sqlCache) Stats(ctx context.Context) (CacheStats, error) {
	if err := c.flush(ctx); err != nil {
		return CacheStats{}, err
	}
	st := CacheStats{Server: c.server}
	var oldest, newest sql.NullInt64
	if err := c.s.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(not_found), 0),
COALESCE(SUM(LENGTH(body)), 0), MIN(fetched_at), MAX(fetched_at) FROM cache_entries WHERE server = ?`, c.server).
		Scan(&st.Entries, &st.NotFound, &st.Bytes, &oldest, &newest); err != nil {
		return CacheStats{}, fmt.Errorf("store: cache stats: %w", err)
	}
	if oldest.Valid {
		st.Oldest, st.Newest = fromMicros(oldest.Int64), fromMicros(newest.Int64)
	}
	if err := c.s.queryRow(ctx, `SELECT COUNT(*) FROM cache_aliases WHERE server = ?`, c.server).
		Scan(&st.Aliases); err != nil {
		return CacheStats{}, fmt.Errorf("store: cache stats: %w", err)
	}
	err := c.s.queryRow(ctx, `SELECT hits, misses FROM cache_counters WHERE server = ?`, c.server).
		Scan(&st.Hits, &st.Misses)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return CacheStats{}, fmt.Errorf("store: cache stats: %w", err)
	}
	return st, nil
}

// Clear implements Cache.
func (c *sqlCache) Clear(ctx context.Context) (int, error) {
	var n int64
	err := c.s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM cache_entries WHERE server = ?`, c.server)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM cache_aliases WHERE server = ?`, c.server); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM cache_counters WHERE server = ?`, c.server)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: cache clear: %w", err)
	}
	c.s.backlog.forget(c.server, time.Time{})
	c.hits.Store(0)
	c.misses.Store(0)
	return int(n), nil
}

// Prune implements Cache.
func (c *sqlCache) Prune(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := c.s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM cache_entries WHERE server = ? AND fetched_at < ?`, c.server, micros(before))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM cache_aliases WHERE server = ? AND NOT EXISTS (SELECT 1 FROM cache_entries e
WHERE e.server = cache_aliases.server AND e.kind = cache_aliases.kind AND e.id = cache_aliases.id)`, c.server)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: cache prune: %w", err)
	}
	c.s.backlog.forget(c.server, before)
	return int(n), nil
}
