package quota

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

func openStore(t testing.TB, path string) store.Store {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newDB(t testing.TB) (string, store.Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vtsoar.db")
	return path, openStore(t, path)
}

// ledgerTimes reads the units of budget straight from the database file.
func ledgerTimes(t testing.TB, path, budget string) []time.Time {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT at FROM quota_ledger WHERE budget = ? ORDER BY at`, budget)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			t.Fatal(err)
		}
		out = append(out, time.UnixMicro(us))
	}
	return out
}

// maxInWindow returns the largest number of units within any interval shorter than w.
func maxInWindow(times []time.Time, w time.Duration) int {
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func TestParseSpec(t *testing.T) {
	for in, want := range map[string]Spec{
		"public":                    Public,
		"PUBLIC":                    {4, 500, 15500},
		"premium":                   {},
		"unlimited":                 {},
		"4/min,500/day,15500/month": Public,
		" 10/min ":                  {PerMinute: 10},
		"1000/day":                  {PerDay: 1000},
		"7/month, 3/minute":         {PerMinute: 3, PerMonth: 7},
		"2/m,3/d,4/mo":              {2, 3, 4},
	} {
		got, err := ParseSpec(in)
		if err != nil || got != want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if again, err := ParseSpec(got.String()); err != nil || again != got {
			t.Errorf("ParseSpec(%q.String() = %q) = %+v, %v", in, got.String(), again, err)
		}
	}
	for _, in := range []string{"", "4", "4/hour", "0/min", "-1/day", "x/min", "4/min,5/min", "4/min,,5/day", "public,4/min"} {
		if s, err := ParseSpec(in); err == nil {
			t.Errorf("ParseSpec(%q) = %+v, want an error", in, s)
		}
	}
	if Public.String() != "4/min,500/day,15500/month" || Premium.String() != "premium" || !Premium.Unlimited() || Public.Unlimited() {
		t.Error("Public/Premium String or Unlimited wrong")
	}
}

func TestBudgetID(t *testing.T) {
	key := strings.Repeat("ab", 32)
	a := BudgetID("https://www.virustotal.com", key)
	if a != BudgetID("HTTPS://www.virustotal.com/", key) || a != BudgetID("", key) {
		t.Error("BudgetID differs for spellings of one server")
	}
	if a == BudgetID("http://127.0.0.1:8089", key) || a == BudgetID("", key+"0") {
		t.Error("BudgetID collides across servers or keys")
	}
	if strings.Contains(a, key) || strings.Contains(a, key[:16]) {
		t.Errorf("BudgetID %q shows the key", a)
	}
}

// TestConcurrentWaitersNeverExceed has many goroutines share one budget: the ledger
// never holds more than R units within a minute window, and the budget is used.
func TestConcurrentWaitersNeverExceed(t *testing.T) {
	path, s := newDB(t)
	const R, win = 5, 250 * time.Millisecond
	l := New(s, "b", Spec{PerMinute: R}, Config{Minute: win})
	ctx, cancel := context.WithTimeout(context.Background(), 4*win+win/2)
	defer cancel()
	var granted atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if err := l.Wait(ctx, vt.Request{}); err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Error(err)
					}
					return
				}
				granted.Add(1)
			}
		}()
	}
	wg.Wait()
	times := ledgerTimes(t, path, "b")
	if len(times) != int(granted.Load()) {
		t.Fatalf("%d grants but %d ledger units", granted.Load(), len(times))
	}
	if m := maxInWindow(times, win); m > R {
		t.Fatalf("%d units within one %v window, budget %d", m, win, R)
	}
	// 4.5 windows: 5 bursts of R.
	if g := granted.Load(); g < 5*R {
		t.Fatalf("only %d units granted in 4.5 windows of %d", g, R)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("VTSOAR_QUOTA_HELPER") == "1" {
		helperProcess()
	}
	os.Exit(m.Run())
}

// helperProcess is the child of TestCrossProcessBudget: it takes units of the budget
// "shared" with 4 goroutines for a while, prints how many it was granted and exits.
func helperProcess() {
	path := os.Getenv("VTSOAR_QUOTA_DB")
	r, _ := strconv.Atoi(os.Getenv("VTSOAR_QUOTA_R"))
	win, _ := time.ParseDuration(os.Getenv("VTSOAR_QUOTA_WINDOW"))
	dur, _ := time.ParseDuration(os.Getenv("VTSOAR_QUOTA_FOR"))
	s, err := store.OpenSQLite(context.Background(), path, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	l := New(s, "shared", Spec{PerMinute: r}, Config{Minute: win})
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var granted atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l.Wait(ctx, vt.Request{}) == nil {
				granted.Add(1)
			}
		}()
	}
	wg.Wait()
	s.Close()
	fmt.Printf("granted=%d\n", granted.Load())
	os.Exit(0)
}

// TestCrossProcessBudget runs several processes (this test binary re-executed) taking
// units of one budget from one database file (see TestMain): together they never exceed it.
func TestCrossProcessBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path, _ := newDB(t) // created and migrated once
	const R, win, procs = 4, 300 * time.Millisecond, 3
	dur := 5 * win
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for i := 0; i < procs; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "VTSOAR_QUOTA_HELPER=1", "VTSOAR_QUOTA_DB="+path,
			"VTSOAR_QUOTA_R="+strconv.Itoa(R), "VTSOAR_QUOTA_WINDOW="+win.String(), "VTSOAR_QUOTA_FOR="+dur.String())
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	total := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
		var n int
		if _, err := fmt.Sscanf(outs[i].String()[strings.Index(outs[i].String(), "granted="):], "granted=%d", &n); err != nil {
			t.Fatalf("child %d output %q", i, outs[i])
		}
		total += n
	}
	times := ledgerTimes(t, path, "shared")
	if len(times) != total {
		t.Fatalf("children report %d grants, ledger has %d", total, len(times))
	}
	if m := maxInWindow(times, win); m > R {
		t.Fatalf("%d units within one %v window across processes, budget %d", m, win, R)
	}
	// Startup of the children eats into the first window; at least 3 of the 5 windows
	// are used in full.
	if total < 3*R {
		t.Fatalf("only %d units granted across processes in 5 windows of %d", total, R)
	}
	t.Logf("%d processes, %d units granted in %v with %d per %v", procs, total, dur, R, win)
}

// fill spends the whole minute window of l.
func fill(t *testing.T, l *Limiter, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := l.Wait(context.Background(), vt.Request{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPriorityWithinProcess(t *testing.T) {
	_, s := newDB(t)
	const win = 150 * time.Millisecond
	l := New(s, "b", Spec{PerMinute: 1}, Config{Minute: win})
	fill(t, l, 1)
	var mu sync.Mutex
	var order []vt.Priority
	var wg sync.WaitGroup
	start := func(p vt.Priority) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Wait(context.Background(), vt.Request{Priority: p}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, p)
			mu.Unlock()
		}()
		time.Sleep(15 * time.Millisecond) // queue in this order
	}
	// Least urgent first; the most urgent must still be served first.
	start(vt.PriorityBackground)
	start(vt.PriorityBackground)
	start(vt.PriorityEnrichment)
	start(vt.PriorityInteractive)
	wg.Wait()
	// The first background waiter held the turn while the window was full; on waking
	// it yields to the more urgent ones.
	want := []vt.Priority{vt.PriorityInteractive, vt.PriorityEnrichment, vt.PriorityBackground, vt.PriorityBackground}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("grant order %v, want %v", order, want)
	}
}

func TestPriorityAcrossProcesses(t *testing.T) {
	path, _ := newDB(t)
	// Two handles and two limiters: two processes on one key.
	procHi := New(openStore(t, path), "b", Spec{PerMinute: 1}, Config{Minute: 150 * time.Millisecond})
	procLo := New(openStore(t, path), "b", Spec{PerMinute: 1}, Config{Minute: 150 * time.Millisecond})
	fill(t, procLo, 1)
	const rounds = 3
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	run := func(l *Limiter, name string, p vt.Priority) {
		defer wg.Done()
		for i := 0; i < rounds; i++ {
			if err := l.Wait(context.Background(), vt.Request{Priority: p}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
		}
	}
	wg.Add(2)
	go run(procLo, "lo", vt.PriorityBackground)
	time.Sleep(20 * time.Millisecond) // the background process waits first
	go run(procHi, "hi", vt.PriorityInteractive)
	wg.Wait()
	want := "[hi hi hi lo lo lo]"
	if fmt.Sprint(order) != want {
		t.Fatalf("grant order %v, want %s", order, want)
	}
}

func TestThrottledHoldsEveryProcess(t *testing.T) {
	path, s := newDB(t)
	a := New(s, "b", Spec{PerMinute: 100}, Config{Minute: time.Second})
	b := New(openStore(t, path), "b", Spec{PerMinute: 100}, Config{Minute: time.Second})
	fill(t, b, 1)
	a.Throttled(context.Background(), vt.Request{Endpoint: "GET /files/{id}"}, 300*time.Millisecond)
	start := time.Now()
	if err := b.Wait(context.Background(), vt.Request{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 280*time.Millisecond {
		t.Fatalf("the other process waited %v after a 429 with Retry-After 300ms", d)
	}
	// Without Retry-After the hold lasts a minute window.
	c := New(s, "c", Spec{PerMinute: 100}, Config{Minute: 200 * time.Millisecond, Margin: -1})
	c.Throttled(context.Background(), vt.Request{}, 0)
	u, err := c.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(u.HeldUntil); left < 100*time.Millisecond || left > 200*time.Millisecond {
		t.Fatalf("hold without Retry-After ends in %v, want about 200ms", left)
	}
	start = time.Now()
	fill(t, c, 1)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("waited %v during a hold of ~200ms", d)
	}
}

func TestExhaustedDayAndMonth(t *testing.T) {
	_, s := newDB(t)
	now := time.Date(2026, 11, 25, 13, 14, 15, 0, time.UTC)
	clock := func() time.Time { return now }
	day := New(s, "d", Spec{PerMinute: 1000, PerDay: 3}, Config{Now: clock})
	for i := 0; i < 3; i++ {
		if err := day.Wait(context.Background(), vt.Request{}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	err := day.Wait(context.Background(), vt.Request{})
	if time.Since(start) > time.Second {
		t.Fatal("a spent day made Wait block")
	}
	var ex *ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("err = %v, want *ExhaustedError", err)
	}
	if ex.Window != "day" || ex.Limit != 3 || !ex.Reset.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("ExhaustedError = %+v", ex)
	}
	var ve *vt.Error
	if !errors.As(err, &ve) || ve.StatusCode != 429 || ve.Code != vt.CodeQuotaExceeded || !vt.IsQuotaExceeded(err) {
		t.Fatalf("not a vt 429 QuotaExceededError: %#v", ve)
	}
	if want := "daily budget of 3 requests spent; resets at 2026-11-26T00:00:00Z"; err.Error() != want || ve.Message != want {
		t.Fatalf("message %q", err.Error())
	}
	// The next day the budget is back.
	now = now.Add(11 * time.Hour)
	if err := day.Wait(context.Background(), vt.Request{}); err != nil {
		t.Fatalf("the day after: %v", err)
	}

	month := New(s, "m", Spec{PerDay: 10, PerMonth: 2}, Config{Now: clock})
	fill(t, month, 2)
	err = month.Wait(context.Background(), vt.Request{})
	if !errors.As(err, &ex) || ex.Window != "month" || !ex.Reset.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) ||
		!strings.HasPrefix(err.Error(), "monthly budget of 2 requests spent; resets at 2026-12-01T00:00:00Z") {
		t.Fatalf("month: %v (%+v)", err, ex)
	}
}

// A spent day fails at once even while the minute is full too.
func TestExhaustedBeforeMinuteWait(t *testing.T) {
	_, s := newDB(t)
	l := New(s, "b", Spec{PerMinute: 1, PerDay: 1}, Config{})
	fill(t, l, 1)
	start := time.Now()
	err := l.Wait(context.Background(), vt.Request{})
	var ex *ExhaustedError
	if !errors.As(err, &ex) || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

func TestWaitCancelledPassesTheTurnOn(t *testing.T) {
	_, s := newDB(t)
	l := New(s, "b", Spec{PerMinute: 1}, Config{Minute: 300 * time.Millisecond})
	fill(t, l, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() { errs <- l.Wait(ctx, vt.Request{}) }()
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	}
	// The limiter still serves once the window turns.
	done := make(chan error, 1)
	go func() { done <- l.Wait(context.Background(), vt.Request{}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Wait stuck after cancelled waiters")
	}
}

func TestUsage(t *testing.T) {
	_, s := newDB(t)
	now := time.Date(2026, 11, 25, 13, 14, 15, 0, time.UTC)
	l := New(s, "b", Public, Config{Now: func() time.Time { return now }})
	fill(t, l, 3)
	u, err := l.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []WindowUsage{
		{Window: "minute", Limit: 4, Used: 3, Left: 1, Resets: now.Add(61 * time.Second)},
		{Window: "day", Limit: 500, Used: 3, Left: 497, Resets: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
		{Window: "month", Limit: 15500, Used: 3, Left: 15497, Resets: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
	}
	if fmt.Sprint(u.Windows) != fmt.Sprint(want) || u.Spec != Public || u.Budget != "b" || !u.HeldUntil.IsZero() {
		t.Fatalf("Usage = %+v\nwant %+v", u.Windows, want)
	}
	p := New(s, "p", Premium, Config{})
	fill(t, p, 7)
	u, _ = p.Usage(context.Background())
	if u.Windows[0].Used != 7 || u.Windows[0].Left != -1 || u.Windows[2].Limit != 0 {
		t.Fatalf("premium usage = %+v", u.Windows)
	}
}

// shiftClock is the real clock moved by an offset that a test can change (the limiter
// sleeps in real time, so a frozen clock would not do).
type shiftClock struct{ off atomic.Int64 }

func newShiftClock(at time.Time) *shiftClock {
	c := &shiftClock{}
	c.off.Store(int64(time.Until(at)))
	return c
}

func (c *shiftClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *shiftClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// waitFor runs Wait and returns how long it took and its error.
func waitFor(l *Limiter, p vt.Priority, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err := l.Wait(ctx, vt.Request{Priority: p})
	return time.Since(start), err
}

// VirusTotal refuses the request retried after a minute's hold: its day is spent, and
// every process fails at once with the reset time until 00:00 UTC, after which a 429
// is a minute hold again.
func TestRefusedAfterAHoldIsASpentDay(t *testing.T) {
	path, s := newDB(t)
	const win = 200 * time.Millisecond
	clk := newShiftClock(time.Date(2026, 11, 25, 23, 59, 50, 0, time.UTC))
	cfg := Config{Minute: win, Margin: -1, Now: clk.Now}
	l := New(s, "b", Premium, cfg)
	other := New(openStore(t, path), "b", Premium, cfg) // another process on the key
	req := vt.Request{Endpoint: "GET /files/{id}"}
	fill(t, l, 1)

	// The first 429 holds a minute window.
	l.Throttled(context.Background(), req, 0)
	if d, err := waitFor(l, vt.PriorityInteractive, 5*time.Second); err != nil || d < win*3/4 {
		t.Fatalf("after a first 429: Wait = %v after %v, want a unit after about %v", err, d, win)
	}
	// The retried request is refused again.
	l.Throttled(context.Background(), req, 0)
	reset := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		l *Limiter
		p vt.Priority
	}{{l, vt.PriorityInteractive}, {l, vt.PriorityBackground}, {other, vt.PriorityInteractive}, {other, vt.PriorityEnrichment}} {
		d, err := waitFor(c.l, c.p, 5*time.Second)
		var ex *ExhaustedError
		if !errors.As(err, &ex) || d > win/2 {
			t.Fatalf("%v wait after a refused retry: %v after %v, want an ExhaustedError at once", c.p, err, d)
		}
		if ex.Window != "day" || !ex.Upstream || !ex.Reset.Equal(reset) || !vt.IsQuotaExceeded(err) ||
			!strings.Contains(err.Error(), "resets at 2026-11-26T00:00:00Z") {
			t.Fatalf("spent day: %v (%+v)", err, ex)
		}
	}
	if u, err := other.Usage(context.Background()); err != nil || !u.HeldUntil.Equal(reset) {
		t.Fatalf("usage of the spent budget: %+v, %v", u, err)
	}

	// At 00:00 UTC the budget serves again; a 429 then is a minute hold, not another day.
	clk.Advance(reset.Sub(clk.Now()))
	fill(t, l, 1)
	l.Throttled(context.Background(), req, 0)
	if d, err := waitFor(other, vt.PriorityInteractive, 5*time.Second); err != nil || d < win*3/4 {
		t.Fatalf("429 after the reset: Wait = %v after %v, want a unit after about %v", err, d, win)
	}
	// A 429 well after a hold ended is a minute hold too.
	time.Sleep(2 * win)
	other.Throttled(context.Background(), req, 0)
	if d, err := waitFor(l, vt.PriorityInteractive, 5*time.Second); err != nil || d < win*3/4 {
		t.Fatalf("429 long after a hold: Wait = %v after %v, want a unit after about %v", err, d, win)
	}
	// A Retry-After right after a hold is taken at its word.
	l.Throttled(context.Background(), req, win/2)
	if d, err := waitFor(l, vt.PriorityInteractive, 5*time.Second); err != nil || d < win/4 {
		t.Fatalf("429 with Retry-After after a hold: Wait = %v after %v", err, d)
	}
}

// A hold longer than the minute window fails an interactive request at once; queued
// work waits it out. A hold within the window makes everyone wait.
func TestLongHoldFailsInteractiveWaitsFast(t *testing.T) {
	_, s := newDB(t)
	const win = 200 * time.Millisecond
	l := New(s, "b", Premium, Config{Minute: win, Margin: 20 * time.Millisecond})
	l.Throttled(context.Background(), vt.Request{}, 5*time.Second)
	d, err := waitFor(l, vt.PriorityInteractive, 5*time.Second)
	var ex *ExhaustedError
	if !errors.As(err, &ex) || d > win/2 {
		t.Fatalf("interactive wait during a 5s hold: %v after %v, want an ExhaustedError at once", err, d)
	}
	if ex.Window != "hold" || time.Until(ex.Reset) < 4*time.Second || !vt.IsQuotaExceeded(err) {
		t.Fatalf("long hold: %v (%+v)", err, ex)
	}
	for _, p := range []vt.Priority{vt.PriorityEnrichment, vt.PriorityBackground} {
		if _, err := waitFor(l, p, win); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v wait during a long hold: %v, want it to wait", p, err)
		}
	}

	short := New(s, "c", Premium, Config{Minute: win, Margin: 20 * time.Millisecond})
	short.Throttled(context.Background(), vt.Request{}, win)
	if d, err := waitFor(short, vt.PriorityInteractive, 5*time.Second); err != nil || d < win*3/4 {
		t.Fatalf("interactive wait during a hold of one window: %v after %v, want a unit after it", err, d)
	}
}
