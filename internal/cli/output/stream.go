package output

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// Stream is a writer for a stream of lines (-o jsonl): what is written reaches the
// underlying writer within its delay, not one write (one system call) per line.
// Close flushes what is left. It is safe for concurrent use.
type Stream struct {
	delay time.Duration

	mu    sync.Mutex
	bw    *bufio.Writer
	timer *time.Timer // pending flush, nil when none
	err   error
}

// NewStream returns a Stream on w that flushes within delay.
func NewStream(w io.Writer, delay time.Duration) *Stream {
	return &Stream{delay: delay, bw: bufio.NewWriterSize(w, 64<<10)}
}

// Write implements io.Writer; the error is that of an earlier flush, if any.
func (s *Stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.bw.Write(p)
	if err != nil {
		s.err = err
		return n, err
	}
	if s.timer == nil && s.bw.Buffered() > 0 {
		s.timer = time.AfterFunc(s.delay, s.flushLater)
	}
	return n, nil
}

func (s *Stream) flushLater() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timer = nil
	if s.err == nil {
		s.err = s.bw.Flush()
	}
}

// Close flushes what is buffered and stops the pending flush.
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.err == nil {
		s.err = s.bw.Flush()
	}
	return s.err
}
