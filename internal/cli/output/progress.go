package output

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress draws a progress bar on a terminal: "[#####-----] 45/100 inputs".
type Progress struct {
	w     io.Writer
	total int
	width int

	mu    sync.Mutex
	done  int
	last  time.Time
	drawn bool
}

// NewProgress returns a bar for total inputs, width columns wide.
func NewProgress(w io.Writer, total, width int) *Progress {
	return &Progress{w: w, total: total, width: max(20, min(width, 100))}
}

// Add records n finished inputs and redraws (at most 20 times a second, and always for
// the last one).
func (p *Progress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.done < p.total && time.Since(p.last) < 50*time.Millisecond {
		return
	}
	p.last = time.Now()
	label := fmt.Sprintf(" %d/%d inputs", p.done, p.total)
	bar := p.width - len(label) - 2
	filled := bar * p.done / max(1, p.total)
	fmt.Fprintf(p.w, "\r[%s%s]%s", strings.Repeat("#", filled), strings.Repeat("-", bar-filled), label)
	p.drawn = true
}

// Done clears the bar.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
	}
}
