package output

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// syncBuf is a bytes.Buffer safe for the Stream's timer to write to.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  int // writes
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.b.Write(p)
}

func (s *syncBuf) String() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.n
}

// Lines written close together go out in one write, within the delay, and every line
// is out after Close.
func TestStreamFlushesWithinItsDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &syncBuf{}
		s := NewStream(out, 20*time.Millisecond)
		for i := range 3 {
			s.Write([]byte(strings.Repeat("x", i) + "\n"))
		}
		if got, _ := out.String(); got != "" {
			t.Fatalf("written at once: %q", got)
		}
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		if got, n := out.String(); got != "\nx\nxx\n" || n != 1 {
			t.Fatalf("after the delay: %q in %d writes, want the 3 lines in 1", got, n)
		}
		s.Write([]byte("last\n"))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got, _ := out.String(); !strings.HasSuffix(got, "last\n") {
			t.Fatalf("after Close: %q", got)
		}
	})
}
