package store

import (
	"bytes"
	"container/list"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/ioc"
)

// Bounds of the backlog, and how often it tries the database again.
const (
	// backlogMaxBytes and backlogMaxPuts bound what the backlog holds: past either,
	// the oldest answer is dropped (logged and counted).
	backlogMaxBytes = 64 << 20
	backlogMaxPuts  = 10000
	// keptOverhead is counted for each kept answer beside its body and names.
	keptOverhead = 256
	// backlogRetryMin and backlogRetryMax bound the wait between two tries while the
	// database keeps failing; a put that succeeds meanwhile ends the wait.
	backlogRetryMin = 100 * time.Millisecond
	backlogRetryMax = time.Second
	// backlogCloseWait is how long Close keeps trying to write what is kept.
	backlogCloseWait = 10 * time.Second
)

// CacheBacklog describes the cache answers a process keeps in memory because their
// write failed (see Caches.CacheBacklog).
type CacheBacklog struct {
	// Answers and Bytes are what is kept now.
	Answers int
	Bytes   int64
	// Written counts the kept answers written since the store was opened, Dropped
	// those dropped because the backlog was full.
	Written, Dropped int64
}

// backlog keeps the cache puts whose write failed (the database restarting,
// unreachable, or busy past its timeout) in memory until they are written: an answer
// VirusTotal was paid for is not dropped because the store missed a beat. The results of
// runs' inputs are kept the same way (keepResult; RunResults finds them meanwhile). While it is
// kept, an answer is what the cache gives for its names in this process (Get,
// Current), so that a job run again here finds it instead of asking VirusTotal; a
// goroutine writes the kept answers, oldest first, trying again with a growing wait
// while the database fails and at once when another write of the store commits, and
// Close writes what is left. A kept answer never replaces one of the same object fetched later, kept or
// stored by another process. It is bounded by backlogMaxBytes and backlogMaxPuts;
// past them the oldest answer is dropped, logged and counted.
type backlog struct {
	s *sqlStore
	// maxBytes and maxPuts are the bounds (0: backlogMaxBytes, backlogMaxPuts).
	maxBytes, maxPuts int

	// kept is the number of answers kept, read without the lock by the puts and
	// lookups of a backlog that is empty, which is the usual case.
	kept atomic.Int64

	mu    sync.Mutex
	puts  list.List                // of *keptPut, oldest first
	names map[string]*list.Element // backlogKey of each name of each kept put
	bytes int
	// behind and behindBytes count the kept puts whose first write is queued
	// (Caches.CacheBehind): the writer leaves them to it.
	behind, behindBytes int
	written             int64
	dropped             int64
	lastErr             error
	writing             bool          // the writer goroutine runs
	wake                chan struct{} // tells the writer to try now
	stop                chan struct{} // closed by close
	wg                  sync.WaitGroup
	closed              bool
}

// keptPut is one write waiting to be written: a cache answer (c and e), or the
// result of an input of a run (run and res), which is as much a paid answer.
type keptPut struct {
	c    *sqlCache
	e    cache.Entry
	run  string
	res  RunResult
	at   time.Time // when the result was put
	keys []string  // backlogKey of each of its names (runResultKey for a run's result)
	size int
	el   *list.Element // nil once it left the backlog
	// behind marks a put behind (hold) whose first write is queued and has not
	// failed: the writer does not write it, and it does not count as kept.
	behind bool
}

// what names the kept write in the log: what it is ("cache", "run result") and its
// attributes.
func (kp *keptPut) what() (string, []any) {
	if kp.c == nil {
		return "run result", []any{"run", kp.run, "input", kp.res.Index}
	}
	return "cache", []any{"server", kp.c.server, "kind", kp.e.Kind, "id", kp.e.ID}
}

// op returns the kept write's batch write and the function that releases it.
func (kp *keptPut) op(b *backlog) (*batchOp, func()) {
	if kp.c == nil {
		return b.s.resultOp(kp.run, kp.res, kp.at), func() {}
	}
	return kp.c.putOp(kp.e, false, true)
}

// runResultKey is the backlog's name of the result of input index of run.
func runResultKey(run string, index int) string {
	return "run\x00" + run + "\x00" + strconv.Itoa(index)
}

func backlogKey(server string, kind ioc.Kind, name string) string {
	return server + "\x00" + string(kind) + "\x00" + name
}

func (b *backlog) limits() (maxBytes, maxPuts int) {
	maxBytes, maxPuts = b.maxBytes, b.maxPuts
	if maxBytes <= 0 {
		maxBytes = backlogMaxBytes
	}
	if maxPuts <= 0 {
		maxPuts = backlogMaxPuts
	}
	return maxBytes, maxPuts
}

// keep keeps e, whose write to c failed with err, and starts the writer; false when
// the store is closing and nothing will write it any more.
func (b *backlog) keep(c *sqlCache, e cache.Entry, err error) bool {
	return b.keepPut(newKeptPut(c, e), err)
}

// newKeptPut is e, put to c, as the backlog keeps it: its body and aliases copied.
func newKeptPut(c *sqlCache, e cache.Entry) *keptPut {
	kp := &keptPut{c: c, e: e, size: len(e.Body) + keptOverhead}
	kp.e.Aliases = slices.Clone(e.Aliases)
	kp.e.Body = bytes.Clone(e.Body)
	for _, n := range entryNames(e) {
		kp.keys = append(kp.keys, backlogKey(c.server, e.Kind, n))
		kp.size += len(n)
	}
	return kp
}

// hold keeps e, put behind to c (Caches.CacheBehind), while its first write is
// queued, so that this process's Get and Current find it until the write lands
// (settleBehind). As a put replaces what is stored, it replaces what is kept of its
// object, whenever that was fetched (an answer made stale is put with an old fetch
// time). It returns false when the backlog is full or closing: the caller then writes
// e before returning.
func (b *backlog) hold(c *sqlCache, e cache.Entry) (*keptPut, bool) {
	kp := newKeptPut(c, e)
	kp.behind = true
	maxBytes, maxPuts := b.limits()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.bytes+kp.size > maxBytes || b.puts.Len() >= maxPuts {
		return nil, false
	}
	b.init()
	for _, k := range kp.keys {
		if el, ok := b.names[k]; ok {
			b.removeLocked(el.Value.(*keptPut))
		}
	}
	kp.el = b.puts.PushBack(kp)
	for _, k := range kp.keys {
		b.names[k] = kp.el
	}
	b.bytes += kp.size
	b.behind++
	b.behindBytes += kp.size
	b.kept.Store(int64(b.puts.Len()))
	return kp, true
}

// settleBehind takes the outcome of the first write of kp, held by hold: written, it
// leaves the backlog (and the older answers of its object kept here are moot); failed,
// it stays, kept as the answers whose write failed are, and the writer tries it again.
func (b *backlog) settleBehind(kp *keptPut, err error) {
	if err == nil {
		b.mu.Lock()
		b.removeLocked(kp)
		b.mu.Unlock()
		b.stored(kp.c, kp.e)
		return
	}
	b.mu.Lock()
	if kp.el == nil {
		// Replaced by a later answer of the object, or cleared.
		b.mu.Unlock()
		return
	}
	if b.closed {
		b.removeLocked(kp)
		b.mu.Unlock()
		b.s.batch.lostPut(err)
		return
	}
	b.unbehindLocked(kp)
	b.lastErr = err
	n, size := b.puts.Len()-b.behind, b.bytes-b.behindBytes
	b.startLocked()
	b.mu.Unlock()
	noun, attrs := kp.what()
	b.s.opts.logger().Warn(noun+" write failed; the answer is kept in memory and written when the database answers",
		append(attrs, "kept", n, "kept_bytes", size, "error", err)...)
}

// unbehindLocked counts kp as kept from now on, not behind.
func (b *backlog) unbehindLocked(kp *keptPut) {
	if kp.behind {
		kp.behind = false
		b.behind--
		b.behindBytes -= kp.size
	}
}

// init makes the backlog's index and channels on first use.
func (b *backlog) init() {
	if b.names == nil {
		b.names = make(map[string]*list.Element)
		b.wake = make(chan struct{}, 1)
		b.stop = make(chan struct{})
	}
}

// startLocked starts the writer unless it runs.
func (b *backlog) startLocked() {
	if !b.writing {
		b.writing = true
		b.wg.Add(1)
		go b.run()
	}
}

// keepResult keeps the result of an input of run, whose write failed with err, as
// keep does a cache answer.
func (b *backlog) keepResult(run string, res RunResult, err error) bool {
	res.Data = bytes.Clone(res.Data)
	kp := &keptPut{run: run, res: res, at: b.s.opts.now(), keys: []string{runResultKey(run, res.Index)}, size: len(res.Data) + len(run) + keptOverhead}
	return b.keepPut(kp, err)
}

// keptResults returns the results of run kept in this process, by input.
func (b *backlog) keptResults(run string) map[int]RunResult {
	if b.kept.Load() == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out map[int]RunResult
	for el := b.puts.Front(); el != nil; el = el.Next() {
		if kp := el.Value.(*keptPut); kp.c == nil && kp.run == run {
			if out == nil {
				out = map[int]RunResult{}
			}
			out[kp.res.Index] = kp.res
		}
	}
	return out
}

// keepPut keeps kp and starts the writer; false when the store is closing.
func (b *backlog) keepPut(kp *keptPut, err error) bool {
	maxBytes, maxPuts := b.limits()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false
	}
	b.init()
	for _, k := range kp.keys {
		if el, ok := b.names[k]; ok {
			if kp.c != nil && el.Value.(*keptPut).e.FetchedAt.After(kp.e.FetchedAt) {
				b.mu.Unlock()
				return true // a later answer of the object is kept already
			}
			b.removeLocked(el.Value.(*keptPut))
		}
	}
	kp.el = b.puts.PushBack(kp)
	for _, k := range kp.keys {
		b.names[k] = kp.el
	}
	b.bytes += kp.size
	var dropped []*keptPut
	for el := b.puts.Front(); el != nil && b.puts.Len() > 1 && (b.bytes > maxBytes || b.puts.Len() > maxPuts); {
		old := el.Value.(*keptPut)
		el = el.Next()
		if old.behind || old == kp {
			continue // its write is under way: it leaves by itself
		}
		b.removeLocked(old)
		b.dropped++
		dropped = append(dropped, old)
	}
	b.lastErr = err
	b.kept.Store(int64(b.puts.Len()))
	n, size, droppedTotal := b.puts.Len()-b.behind, b.bytes-b.behindBytes, b.dropped
	b.startLocked()
	b.mu.Unlock()

	log := b.s.opts.logger()
	noun, attrs := kp.what()
	log.Warn(noun+" write failed; the answer is kept in memory and written when the database answers",
		append(attrs, "kept", n, "kept_bytes", size, "error", err)...)
	for _, d := range dropped {
		noun, attrs := d.what()
		if noun == "cache" {
			noun = "cache answer"
		}
		log.Error(noun+" dropped: too many answers wait for the database; it will be asked for again",
			append(attrs, "max_answers", maxPuts, "max_bytes", maxBytes, "dropped_total", droppedTotal)...)
	}
	return true
}

// removeLocked takes kp out of the backlog, if it is still there.
func (b *backlog) removeLocked(kp *keptPut) {
	if kp.el == nil {
		return
	}
	for _, k := range kp.keys {
		if b.names[k] == kp.el {
			delete(b.names, k)
		}
	}
	b.puts.Remove(kp.el)
	kp.el = nil
	b.bytes -= kp.size
	b.unbehindLocked(kp)
	b.kept.Store(int64(b.puts.Len()))
}

// stored takes note of e, written to c: the kept answers of the object fetched no
// later are moot, and the database answers again, so the writer tries now.
func (b *backlog) stored(c *sqlCache, e cache.Entry) {
	if b.kept.Load() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range entryNames(e) {
		if el, ok := b.names[backlogKey(c.server, e.Kind, n)]; ok {
			if kp := el.Value.(*keptPut); !kp.e.FetchedAt.After(e.FetchedAt) {
				b.removeLocked(kp)
			}
		}
	}
	b.wakeLocked()
}

// poke tells the writer that the database took a write: it tries now instead of at
// the end of its wait.
func (b *backlog) poke() {
	if b.kept.Load() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.wakeLocked()
}

func (b *backlog) wakeLocked() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// get returns the kept answer that id leads to on server.
func (b *backlog) get(server string, kind ioc.Kind, id string) (cache.Entry, bool) {
	if b.kept.Load() == 0 {
		return cache.Entry{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	el, ok := b.names[backlogKey(server, kind, id)]
	if !ok {
		return cache.Entry{}, false
	}
	return el.Value.(*keptPut).e, true
}

// forget drops the kept answers of server fetched before before (Prune), or all of
// them when before is zero (Clear).
func (b *backlog) forget(server string, before time.Time) {
	if b.kept.Load() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for el := b.puts.Front(); el != nil; {
		next := el.Next()
		kp := el.Value.(*keptPut)
		if kp.c != nil && kp.c.server == server && (before.IsZero() || kp.e.FetchedAt.Before(before)) {
			b.removeLocked(kp)
		}
		el = next
	}
}

// stats returns what the backlog holds and has done.
func (b *backlog) stats() CacheBacklog {
	b.mu.Lock()
	defer b.mu.Unlock()
	return CacheBacklog{Answers: b.puts.Len() - b.behind, Bytes: int64(b.bytes - b.behindBytes), Written: b.written, Dropped: b.dropped}
}

// run is the writer: it writes the kept answers until there are none or the store
// closes, waiting longer after each round that wrote nothing.
func (b *backlog) run() {
	defer b.wg.Done()
	delay := backlogRetryMin
	for {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-b.wake:
		case <-b.stop:
			t.Stop()
			return // close writes what is left
		}
		t.Stop()
		n, left := b.writeKept()
		if left == 0 {
			b.mu.Lock()
			if b.puts.Len() == b.behind {
				b.writing = false
				written := b.written
				b.mu.Unlock()
				b.s.opts.logger().Info("cache answers kept in memory are written", "written_total", written)
				return
			}
			b.mu.Unlock()
		}
		if n > 0 {
			delay = backlogRetryMin
		} else {
			delay = min(2*delay, backlogRetryMax)
		}
	}
}

// writeKept tries to write every kept answer: the oldest alone first, so that a
// database that is still down costs one attempt, then, unless it is still
// unavailable (or SQLite's busy), the others together (the batcher groups them; one answer the database
// refuses does not hold back the others). It returns how many were written and how
// many are left.
func (b *backlog) writeKept() (written, left int) {
	b.mu.Lock()
	var puts []*keptPut
	for el := b.puts.Front(); el != nil; el = el.Next() {
		if kp := el.Value.(*keptPut); !kp.behind {
			puts = append(puts, kp)
		}
	}
	b.mu.Unlock()
	if len(puts) == 0 {
		return 0, 0
	}
	written = b.write(puts[:1])
	b.mu.Lock()
	down := written == 0 && (IsUnavailable(b.lastErr) || isBusy(b.lastErr)) // takes no write at all
	b.mu.Unlock()
	if !down {
		written += b.write(puts[1:])
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return written, b.puts.Len() - b.behind
}

// write writes puts (each a deferred write that leaves a later answer alone) and
// takes those written out of the backlog; it returns their number.
func (b *backlog) write(puts []*keptPut) int {
	ops := make([]*batchOp, len(puts))
	releases := make([]func(), len(puts))
	for i, kp := range puts {
		ops[i], releases[i] = kp.op(b)
		ops[i].done = make(chan error, 1)
		b.s.batch.submit(ops[i])
	}
	n := 0
	for i, kp := range puts {
		err := <-ops[i].done
		releases[i]()
		b.mu.Lock()
		if err != nil {
			b.lastErr = err
		} else {
			b.removeLocked(kp)
			b.written++
			n++
		}
		b.mu.Unlock()
	}
	return n
}

// close stops the writer and writes what is kept, trying for up to
// backlogCloseWait; the error says how many answers could not be written.
func (b *backlog) close() error {
	b.mu.Lock()
	b.closed = true
	if b.stop != nil {
		close(b.stop)
	}
	b.mu.Unlock()
	b.wg.Wait()
	deadline := time.Now().Add(backlogCloseWait)
	delay := backlogRetryMin
	for {
		if _, left := b.writeKept(); left == 0 {
			return nil
		}
		if time.Now().Add(delay).After(deadline) {
			break
		}
		time.Sleep(delay)
		delay = min(2*delay, backlogRetryMax)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Errorf("store: %d cache answers kept in memory could not be written: %w", b.puts.Len()-b.behind, b.lastErr)
}

// keptAt returns when the kept answer that id leads to on server was fetched.
func (b *backlog) keptAt(server string, kind ioc.Kind, id string) (time.Time, bool) {
	e, ok := b.get(server, kind, id)
	return e.FetchedAt, ok
}

// CacheBacklog implements Caches.
func (s *sqlStore) CacheBacklog() CacheBacklog { return s.backlog.stats() }
