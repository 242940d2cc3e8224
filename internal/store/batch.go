package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"slices"
	"sync"
	"time"
)

// This file groups the store's small, frequent writes (cache puts, the units of
// unlimited budgets) into shared transactions: a group commit. Every write queued
// while a transaction runs goes into the next one, so that a process writing many
// answers at once pays one transaction (one commit, one pass through the write lock)
// for what arrived meanwhile instead of one each. A lone write is not delayed; while
// writes keep coming, a batch of fewer than lingerBefore waits up to linger (0.5 ms)
// for more, since a transaction's begin and commit (locks, journal frames, system
// calls) cost as much as a few writes. A write that the caller waits for (a cache put) returns once its transaction
// has committed, as before: grouping changes the cost, not the guarantee.
//
// A write nobody waits for and that may wait (lazy: the units of unlimited budgets,
// asynchronous cache puts) is held for up to its hold (lazyDelay, asyncPutDelay),
// and then written with what is queued or alone: a transaction's begin and commit
// cost as much as several writes, and a process taking a thousand units a second,
// or storing as many answers, then writes them in a few transactions instead of
// hundreds. A flush writes them at once.

// maxBatch bounds the writes of one transaction (and the memory of their bodies).
const (
	maxBatchOps   = 256
	maxBatchBytes = 16 << 20
	// lazyDelay is how long a lazy write may be held; maxLazy how many.
	lazyDelay = 50 * time.Millisecond
	// asyncPutDelay is how long an asynchronous cache put may be held: a run killed
	// loses the answers of that long at most (see Caches.CacheNoWait). Every commit
	// writes again the index pages its puts touched and empties the other
	// connections' page caches: at 1000 answers a second, holding them 50 ms instead
	// of 10 cut the CPU of a CLI run by a tenth.
	asyncPutDelay = 50 * time.Millisecond
	maxLazy       = 1024
)

// batchOp is one write of a batch.
type batchOp struct {
	// keys are the records the write reads and writes (see writeKeyed).
	keys []string
	// budget, when set, is a ledger budget whose units the write records: on
	// PostgreSQL the transaction takes the budget's lock, as TakeUnit does.
	budget string
	// size is about the bytes the write carries (for maxBatchBytes).
	size int
	// apply does the write in tx; nil marks a flush, which writes nothing.
	apply func(ctx context.Context, tx *sql.Tx) error
	// done, when set, receives the write's outcome once committed (or failed).
	done chan error
	// lazy marks a write nobody waits for that may be held, up to hold (0:
	// lazyDelay).
	lazy bool
	hold time.Duration
	// after, when set, is called with the outcome of a write nobody waits for, in
	// place of recording a failure for the next flush.
	after func(error)
}

// batcher runs the queued writes of one store, one transaction at a time.
type batcher struct {
	s *sqlStore

	mu      sync.Mutex
	queue   []*batchOp
	lazy    []*batchOp // held lazy writes, oldest first
	due     time.Time  // when the first of lazy must be written
	running bool
	wake    chan struct{} // a write was queued while the writer waited for lazy ones
	// asyncErr is the last failure of a write nobody waited for, reported by the next
	// flush.
	asyncErr error
	// putErr is the last failure of an asynchronous cache put (Caches.CacheNoWait)
	// whose answer could not be kept (lostPut), reported by Close; asyncBytes are the
	// bytes of those queued.
	putErr     error
	asyncBytes int
}

// submit queues op and starts the writer if it is idle.
func (b *batcher) submit(op *batchOp) {
	b.mu.Lock()
	if op.lazy {
		hold := op.hold
		if hold <= 0 {
			hold = lazyDelay
		}
		if due := time.Now().Add(hold); len(b.lazy) == 0 || due.Before(b.due) {
			b.due = due
		}
		b.lazy = append(b.lazy, op)
	} else {
		b.queue = append(b.queue, op)
	}
	if b.wake == nil {
		b.wake = make(chan struct{}, 1)
	}
	if !b.running {
		b.running = true
		go b.loop()
	} else if wakeFor(op, len(b.queue), len(b.lazy)) {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	b.mu.Unlock()
}

// do queues op and waits for its outcome; done is false when ctx ended first (the
// write goes on, and op is still in use).
func (b *batcher) do(ctx context.Context, op *batchOp) (done bool, err error) {
	op.done = make(chan error, 1)
	b.submit(op)
	select {
	case err := <-op.done:
		return true, err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// flush waits until every write queued before it has committed, and returns the
// failure of a write nobody waited for since the last flush, if any.
func (b *batcher) flush(ctx context.Context) error {
	if _, err := b.do(ctx, &batchOp{}); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.asyncErr
	b.asyncErr = nil
	return err
}

// settle is flush when writes are queued or running, and nothing otherwise.
func (b *batcher) settle(ctx context.Context) error {
	b.mu.Lock()
	busy := b.running || b.asyncErr != nil || len(b.lazy) > 0
	b.mu.Unlock()
	if !busy {
		return nil
	}
	return b.flush(ctx)
}

// maxAsyncBytes bounds the asynchronous cache puts queued at once: past it, a put
// waits for its write, so that a writer that falls behind holds back its callers
// instead of their answers piling up in memory.
const maxAsyncBytes = 2 << 20

// async queues op, a cache put nobody waits for, unless maxAsyncBytes are queued
// already; false when the caller must wait for it instead (do).
func (b *batcher) async(op *batchOp) bool {
	b.mu.Lock()
	if b.asyncBytes+op.size > maxAsyncBytes {
		b.mu.Unlock()
		return false
	}
	b.asyncBytes += op.size
	b.mu.Unlock()
	after := op.after
	op.after = func(err error) {
		b.mu.Lock()
		b.asyncBytes -= op.size
		b.mu.Unlock()
		if after != nil {
			after(err)
		}
	}
	b.submit(op)
	return true
}

// lostPut records the failure of an asynchronous cache put whose answer could not be
// kept either (the store is closing), for Close to report.
func (b *batcher) lostPut(err error) {
	b.mu.Lock()
	b.putErr = err
	b.mu.Unlock()
}

// takePutErr returns and forgets the failure of an asynchronous cache put.
func (b *batcher) takePutErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.putErr
	b.putErr = nil
	return err
}

// takeAsyncErr returns and forgets the failure of a write nobody waited for.
func (b *batcher) takeAsyncErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.asyncErr
	b.asyncErr = nil
	return err
}

// take removes the next batch from the queue, with the held lazy writes when it
// holds a flush, when the first of them is due or when there are maxLazy of them.
// With only younger lazy writes held it returns no batch and how long to wait; ok is
// false when nothing is queued or held (and the writer stops).
func (b *batcher) take() (batch []*batchOp, wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, size, flush := 0, 0, false
	for n < len(b.queue) && n < maxBatchOps {
		size += b.queue[n].size
		flush = flush || b.queue[n].apply == nil
		n++
		if size >= maxBatchBytes {
			break
		}
	}
	if len(b.lazy) > 0 {
		if left := time.Until(b.due); flush || left <= 0 || len(b.lazy) >= maxLazy {
			batch = append(batch, b.lazy...)
			clear(b.lazy)
			b.lazy = b.lazy[:0]
		} else if n == 0 {
			return nil, left, true
		}
	}
	if n == 0 && len(batch) == 0 {
		b.running = false
		return nil, 0, false
	}
	batch = append(batch, b.queue[:n]...)
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	return batch, 0, true
}

func (b *batcher) loop() {
	ctx := context.Background()
	var last time.Time // when the last transaction ended
	for {
		if b.lingering(last) {
			t := time.NewTimer(linger)
			select {
			case <-b.wake:
			case <-t.C:
			}
			t.Stop()
		}
		batch, wait, ok := b.take()
		if !ok {
			return
		}
		if batch == nil {
			t := time.NewTimer(wait)
			select {
			case <-b.wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		b.run(ctx, batch)
		last = time.Now()
	}
}

// linger is how long the writer waits for more writes to join a small batch while
// writes keep coming (the last transaction ended less than busyGap ago): every
// transaction costs its begin and commit (locks, journal frames), whatever it holds.
const (
	linger       = 500 * time.Microsecond
	busyGap      = 3 * time.Millisecond
	lingerBefore = 4 // writes queued from which the writer does not wait
)

// wakeFor reports whether op, just queued (queued and lazy writes now held), wakes
// a waiting writer: a first write (the writer may wait for lazy ones), a flush,
// enough writes to end a linger, or too many lazy ones.
func wakeFor(op *batchOp, queued, lazy int) bool {
	if op.lazy {
		return lazy >= maxLazy
	}
	return queued == 1 || queued >= lingerBefore || op.apply == nil
}

// lingering reports whether the writer should wait a little before its next batch.
func (b *batcher) lingering(last time.Time) bool {
	if last.IsZero() || time.Since(last) > busyGap {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.queue)
	for _, op := range b.queue {
		if op.apply == nil {
			return false // a flush is waiting
		}
	}
	return n > 0 && n < lingerBefore
}

// run writes a batch in one transaction. When that fails and the batch holds more
// than one write, each write is tried again in a transaction of its own, so that one
// write's failure is its own.
func (b *batcher) run(ctx context.Context, batch []*batchOp) {
	var writes []*batchOp
	for _, op := range batch {
		if op.apply != nil {
			writes = append(writes, op)
		}
	}
	var err error
	if len(writes) > 0 {
		err = b.write(ctx, writes)
	}
	if err != nil && len(writes) > 1 {
		for _, op := range writes {
			b.finish(op, b.write(ctx, []*batchOp{op}))
		}
		err = nil
		writes = nil
	}
	for _, op := range writes {
		b.finish(op, err)
	}
	for _, op := range batch {
		if op.apply == nil {
			b.finish(op, nil)
		}
	}
}

// write is writeBatch, tried again on a new connection when the database dropped the
// one the transaction ran on (a PostgreSQL restart): the transaction did not commit.
func (b *batcher) write(ctx context.Context, ops []*batchOp) error {
	var err error
	for range 3 {
		if err = b.s.writeBatch(ctx, ops); !errors.Is(err, driver.ErrBadConn) {
			return err
		}
	}
	return err
}

func (b *batcher) finish(op *batchOp, err error) {
	if op.done != nil {
		op.done <- err
		return
	}
	if op.after != nil {
		op.after(err)
		return
	}
	if err != nil {
		b.mu.Lock()
		b.asyncErr = err
		b.mu.Unlock()
	}
}

// writeBatch runs ops in one write transaction that names the keys of all of them and
// records the units of their budgets (dialect.batchTx).
func (s *sqlStore) writeBatch(ctx context.Context, ops []*batchOp) error {
	var keys, budgets []string
	for _, op := range ops {
		keys = append(keys, op.keys...)
		if op.budget != "" && !slices.Contains(budgets, op.budget) {
			budgets = append(budgets, op.budget)
		}
	}
	return s.dialect.batchTx(ctx, keys, budgets, func(tx *sql.Tx) error {
		for _, op := range ops {
			if err := op.apply(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
}
