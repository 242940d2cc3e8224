package quota

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/vt"
)

// BenchmarkUtilisation measures how much of a budget competing goroutines get: R units
// per window over several short windows, reported as granted / (R x windows)
// ("utilisation", goal >= 0.98) and the number of windows of the provider's length that
// held more than R units ("over-budget-windows", must be 0). The windows are sliding:
// every interval of the window's length, wherever it starts, counts, so the figure also
// holds for a provider counting calendar windows.
func BenchmarkUtilisation(b *testing.B) {
	const (
		R       = 20
		win     = 200 * time.Millisecond
		windows = 10
		workers = 32
	)
	var util, over float64
	for i := 0; i < b.N; i++ {
		path, s := sqliteBackend.newStore(b)
		l := New(s, "bench", Spec{PerMinute: R}, Config{Minute: win})
		ctx, cancel := context.WithTimeout(context.Background(), windows*win)
		var granted atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for l.Wait(ctx, vt.Request{Priority: vt.Priority(g % 3)}) == nil {
					granted.Add(1)
				}
			}()
		}
		wg.Wait()
		cancel()
		times := ledgerTimes(b, path, "bench")
		if n := overBudget(times, win, R); n > 0 {
			over += float64(n)
			b.Errorf("%d windows of %v held more than %d units", n, win, R)
		}
		util += float64(granted.Load()) / float64(R*windows)
	}
	b.ReportMetric(util/float64(b.N), "utilisation")
	b.ReportMetric(over, "over-budget-windows")
}

// overBudget counts the units that were at least the (R+1)-th within an interval
// shorter than w: each starts a window of the provider's length holding more than R.
func overBudget(times []time.Time, w time.Duration, r int) int {
	n := 0
	for i := r; i < len(times); i++ {
		if times[i].Sub(times[i-r]) < w {
			n++
		}
	}
	return n
}
