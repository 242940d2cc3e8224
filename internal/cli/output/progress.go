package output

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// redrawEvery is the least time between two draws of a progress bar.
const redrawEvery = 50 * time.Millisecond

// Progress draws a progress bar on a terminal: "[#####-----] 45/100 inputs".
type Progress struct {
	w     io.Writer
	total int
	width int

	mu      sync.Mutex
	done    int
	last    time.Time
	drawn   int         // the columns of the bar drawn (0: none)
	pending *time.Timer // draws the count at the end of the throttle window
	closed  bool
	// waiting, while the inputs left wait for the budget, is when the next one may
	// leave (shown after the count).
	waiting time.Time
}

// NewProgress returns a bar for total inputs, width columns wide.
func NewProgress(w io.Writer, total, width int) *Progress {
	return &Progress{w: w, total: total, width: max(20, min(width, 100))}
}

// Add records n finished inputs and redraws: at most once every 50 ms, and always
// for the last one. An Add inside the 50 ms after a draw is drawn when they end, so
// that the bar shows the count while the inputs left wait (for a budget, say).
func (p *Progress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.done += n
	if wait := redrawEvery - time.Since(p.last); p.done < p.total && wait > 0 {
		if p.pending == nil {
			p.pending = time.AfterFunc(wait, p.drawPending)
		}
		return
	}
	p.draw()
}

// drawPending draws the count that throttled Adds left undrawn.
func (p *Progress) drawPending() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = nil
	if !p.closed {
		p.draw()
	}
}

// draw writes the bar; p.mu is held.
func (p *Progress) draw() {
	if p.pending != nil {
		p.pending.Stop()
		p.pending = nil
	}
	p.last = time.Now()
	label := fmt.Sprintf(" %d/%d inputs", p.done, p.total)
	if !p.waiting.IsZero() {
		label += ", waiting for the budget until " + p.waiting.Local().Format(time.TimeOnly)
	}
	bar := max(p.width-len(label)-2, 10)
	filled := bar * p.done / max(1, p.total)
	fmt.Fprintf(p.w, "\r[%s%s]%s", strings.Repeat("#", filled), strings.Repeat("-", bar-filled), label)
	p.drawn = bar + 2 + len(label)
}

// Wait writes line above the bar and shows, after the count, that the inputs left
// wait for the budget until until.
func (p *Progress) Wait(line string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.clear()
	fmt.Fprintln(p.w, line)
	p.waiting = until
	p.draw()
}

// Resume shows that the inputs no longer wait for the budget.
func (p *Progress) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.waiting.IsZero() {
		return
	}
	p.clear()
	p.waiting = time.Time{}
	p.draw()
}

// clear erases the bar; p.mu is held.
func (p *Progress) clear() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.drawn))
		p.drawn = 0
	}
}

// Done clears the bar; nothing is drawn after it.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.pending != nil {
		p.pending.Stop()
		p.pending = nil
	}
	p.clear()
}
