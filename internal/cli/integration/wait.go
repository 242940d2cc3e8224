package integration

import (
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/cli/output"
	"github.com/vtsoar/vtsoar/internal/quota"
)

// budgetWaits tells the person running a command when its inputs wait for the
// budget (a quota.Observer): one line on stderr as the wait begins, once per wait
// (not with -o jsonl, whose stderr carries only the run's outcome), and, with a
// progress bar, the wait beside the count until the inputs go on. A wait shorter than
// minWaitTold is not told: it is over before anyone could wonder.
type budgetWaits struct {
	w        io.Writer
	progress *output.Progress
	quiet    bool
	now      func() time.Time

	mu   sync.Mutex
	told time.Time // the end of the last wait told
}

// Waiting implements quota.Observer.
func (b *budgetWaits) Waiting(w quota.Wait) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.Until.Equal(b.told) || w.Until.Sub(b.now()) < minWaitTold {
		return // the same wait, told by another input that waits for it; or a blink
	}
	b.told = w.Until
	line := WaitLine(w, b.now())
	switch {
	case b.progress != nil:
		b.progress.Wait(line, w.Until)
	case !b.quiet:
		fmt.Fprintln(b.w, line)
	}
}

// Resumed implements quota.Observer.
func (b *budgetWaits) Resumed(quota.Wait) {
	if b.progress != nil {
		b.progress.Resume()
	}
}

// minWaitTold is the shortest wait for the budget that is told.
const minWaitTold = time.Second

// WaitLine is the line that says a run waits for its budget: "waiting for the public
// budget: 4 requests this minute used, next at 14:03:05 (58 s)", the time on the
// local clock.
func WaitLine(w quota.Wait, now time.Time) string {
	why := fmt.Sprintf("%d request%s this minute used", w.Used, plural(w.Used))
	if w.Held {
		why = "VirusTotal answered 429"
	}
	secs := max(int(math.Ceil(w.Until.Sub(now).Seconds())), 0)
	return fmt.Sprintf("waiting for the %s budget: %s, next at %s (%d s)", w.Spec.Name(), why,
		w.Until.Local().Format(time.TimeOnly), secs)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
