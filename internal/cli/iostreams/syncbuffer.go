package iostreams

import (
	"bytes"
	"sync"
)

// SyncBuffer is an output stream that may be read while a command running in another
// goroutine still writes to it (a server's log, a banner printed at start). Tests of
// long-running commands use it where Test's plain buffers would race.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
