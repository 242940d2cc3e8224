package quota

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

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

// flood has each limiter taken by goroutines goroutines, at priority p, for d: each
// takes units of the limiters' budget until d has passed. It checks that the ledger
// of dsn holds one unit per grant and never more than r within a minute and its
// margin, and that the budget was used: bursts of r, one every 61 s.
func flood(t *testing.T, dsn, budget string, limiters []*Limiter, goroutines, r int, p vt.Priority, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var granted atomic.Int64
	var wg sync.WaitGroup
	for _, l := range limiters {
		for range goroutines {
			wg.Go(func() {
				for {
					if err := l.Wait(ctx, vt.Request{Priority: p}); err != nil {
						if !errors.Is(err, context.DeadlineExceeded) {
							t.Error(err)
						}
						return
					}
					granted.Add(1)
				}
			})
		}
	}
	wg.Wait()
	times := ledgerTimes(t, dsn, budget)
	if len(times) != int(granted.Load()) {
		t.Fatalf("%d grants but %d ledger units", granted.Load(), len(times))
	}
	if m := maxInWindow(times, time.Minute+time.Second); m > r {
		t.Fatalf("%d units within one minute and its margin across %d limiters, budget %d", m, len(limiters), r)
	}
	bursts := int(d/(time.Minute+time.Second)) + 1
	if g := granted.Load(); g != int64(bursts*r) {
		t.Fatalf("%d units granted across %d limiters in %v of %d a minute, want %d", g, len(limiters), d, r, bursts*r)
	}
}

// TestConcurrentWaitersNeverExceed has many goroutines share one budget for four and a
// half real (fake, in a synctest bubble) minutes: the ledger never holds more than R units
// within a minute window with its margin, and the budget is used (4.5 minutes of 61 s:
// 5 bursts of R).
func TestConcurrentWaitersNeverExceed(t *testing.T) {
	inBubbleOnEachBackend(t, func(t *testing.T, dsn string, s store.Store) {
		const R = 5
		l := New(s, "b", Spec{PerMinute: R}, Config{})
		flood(t, dsn, "b", []*Limiter{l}, 20, R, vt.PriorityInteractive, 4*time.Minute+30*time.Second)
	})
}

// TestReplicasShareOneBudget floods one budget of R a window from three handles on one
// database (three processes, or three replicas of the service on PostgreSQL, each with
// its own connections), four goroutines each: no window ever holds more than R units,
// every grant is one ledger unit, and the budget is used (five minutes of 61 s: five
// bursts of R).
//
// It runs in a synctest bubble: five minutes of fake time, in which the limiters sleep
// while the database answers in real time. On SQLite the handles wait for each
// other's write lock in SQLite's busy handler, a sleep in the bubble's time.
func TestReplicasShareOneBudget(t *testing.T) {
	inBubbleOnEachBackend(t, func(t *testing.T, dsn string, s store.Store) {
		const R = 4
		replicas := []*Limiter{New(s, "shared", Spec{PerMinute: R}, Config{})}
		for range 2 {
			replicas = append(replicas, New(openStore(t, dsn), "shared", Spec{PerMinute: R}, Config{}))
		}
		flood(t, dsn, "shared", replicas, 4, R, vt.PriorityEnrichment, 5*time.Minute)
	})
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
	dsn := os.Getenv("VTSOAR_QUOTA_DB")
	r, _ := strconv.Atoi(os.Getenv("VTSOAR_QUOTA_R"))
	win, _ := time.ParseDuration(os.Getenv("VTSOAR_QUOTA_HELPER_WINDOW"))
	dur, _ := time.ParseDuration(os.Getenv("VTSOAR_QUOTA_FOR"))
	s, err := store.Open(context.Background(), dsn, store.Options{})
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
// units of one budget from one database (see TestMain): together they never exceed it.
func TestCrossProcessBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	onEachBackend(t, func(t *testing.T, b backend) {
		dsn, _ := b.newStore(t) // created and migrated once
		const R, win, procs = 4, 300 * time.Millisecond, 3
		dur := 5 * win
		var cmds []*exec.Cmd
		var outs []*strings.Builder
		for i := 0; i < procs; i++ {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "VTSOAR_QUOTA_HELPER=1", "VTSOAR_QUOTA_DB="+dsn,
				"VTSOAR_QUOTA_R="+strconv.Itoa(R), "VTSOAR_QUOTA_HELPER_WINDOW="+win.String(), "VTSOAR_QUOTA_FOR="+dur.String())
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
		times := ledgerTimes(t, dsn, "shared")
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
	})
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
	inBubbleOnEachBackend(t, func(t *testing.T, dsn string, s store.Store) {
		l := New(s, "b", Spec{PerMinute: 1}, Config{})
		fill(t, l, 1)
		var mu sync.Mutex
		var order []vt.Priority
		var wg sync.WaitGroup
		start := func(p vt.Priority) {
			wg.Go(func() {
				if err := l.Wait(context.Background(), vt.Request{Priority: p}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, p)
				mu.Unlock()
			})
			synctest.Wait() // queued, in this order
		}
		// Least urgent first; the most urgent must still be served first.
		start(vt.PriorityBackground)
		start(vt.PriorityBackground)
		start(vt.PriorityEnrichment)
		start(vt.PriorityInteractive)
		wg.Wait()
		// The first background waiter held the turn while the window was full; on
		// waking it yields to the more urgent ones.
		want := []vt.Priority{vt.PriorityInteractive, vt.PriorityEnrichment, vt.PriorityBackground, vt.PriorityBackground}
		if fmt.Sprint(order) != fmt.Sprint(want) {
			t.Fatalf("grant order %v, want %v", order, want)
		}
	})
}

// TestPriorityAcrossProcesses: an interactive request of one process (or replica) goes
// before the background work another was already waiting with.
func TestPriorityAcrossProcesses(t *testing.T) {
	inBubbleOnEachBackend(t, func(t *testing.T, dsn string, s store.Store) {
		// Two handles and two limiters: two processes on one key.
		procHi := New(s, "b", Spec{PerMinute: 1}, Config{})
		procLo := New(openStore(t, dsn), "b", Spec{PerMinute: 1}, Config{})
		fill(t, procLo, 1)
		const rounds = 3
		var mu sync.Mutex
		var order []string
		var wg sync.WaitGroup
		run := func(l *Limiter, name string, p vt.Priority) {
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
		wg.Go(func() { run(procLo, "lo", vt.PriorityBackground) })
		synctest.Wait() // the background process waits first
		wg.Go(func() { run(procHi, "hi", vt.PriorityInteractive) })
		wg.Wait()
		want := "[hi hi hi lo lo lo]"
		if fmt.Sprint(order) != want {
			t.Fatalf("grant order %v, want %s", order, want)
		}
	})
}

func TestThrottledHoldsEveryProcess(t *testing.T) {
	inBubbleOnEachBackend(t, func(t *testing.T, dsn string, s store.Store) {
		a := New(s, "b", Spec{PerMinute: 100}, Config{})
		b := New(openStore(t, dsn), "b", Spec{PerMinute: 100}, Config{})
		fill(t, b, 1)
		a.Throttled(context.Background(), vt.Request{Endpoint: "GET /files/{id}"}, 30*time.Second)
		if d, err := waitFor(b, vt.PriorityEnrichment, time.Hour); err != nil || d != 30*time.Second {
			t.Fatalf("the other process: %v after %v, want a unit after the 429's Retry-After of 30s", err, d)
		}
		// Without Retry-After the hold lasts a minute window with its margin.
		c := New(s, "c", Spec{PerMinute: 100}, Config{})
		c.Throttled(context.Background(), vt.Request{}, 0)
		u, err := c.Usage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if left := time.Until(u.HeldUntil); left != 61*time.Second {
			t.Fatalf("hold without Retry-After ends in %v, want 61s", left)
		}
		if d, err := waitFor(c, vt.PriorityEnrichment, time.Hour); err != nil || d != 61*time.Second {
			t.Fatalf("waited %v (%v) during a hold of 61s", d, err)
		}
	})
}

// about reports whether d is want, give or take the microsecond the ledger rounds to.
func about(d, want time.Duration) bool { return d >= want && d <= want+time.Millisecond }

// frozenAt is a clock that reads *at.
func frozenAt(at *time.Time) func() time.Time { return func() time.Time { return *at } }

func TestExhaustedDayAndMonth(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		_, s := b.newStore(t)
		now := time.Now().UTC() // the limiter's clock, frozen at the moment the test runs
		tomorrow := dayStart(now).AddDate(0, 0, 1)
		day := New(s, "d", Spec{PerMinute: 1000, PerDay: 3}, Config{Now: frozenAt(&now)})
		fill(t, day, 3)
		err := day.Wait(context.Background(), vt.Request{})
		var ex *ExhaustedError
		if !errors.As(err, &ex) {
			t.Fatalf("err = %v, want *ExhaustedError", err)
		}
		if ex.Window != "day" || ex.Limit != 3 || !ex.Reset.Equal(tomorrow) {
			t.Fatalf("ExhaustedError = %+v, want the day's reset at %v", ex, tomorrow)
		}
		var ve *vt.Error
		if !errors.As(err, &ve) || ve.StatusCode != 429 || ve.Code != vt.CodeQuotaExceeded || !vt.IsQuotaExceeded(err) {
			t.Fatalf("not a vt 429 QuotaExceededError: %#v", ve)
		}
		if want := "daily budget of 3 requests spent; resets at " + tomorrow.Format(time.RFC3339); err.Error() != want || ve.Message != want {
			t.Fatalf("message %q, want %q", err.Error(), want)
		}
		// At 00:00 UTC the budget is back.
		now = tomorrow
		if err := day.Wait(context.Background(), vt.Request{}); err != nil {
			t.Fatalf("the day after: %v", err)
		}

		nextMonth := monthStart(now).AddDate(0, 1, 0)
		month := New(s, "m", Spec{PerDay: 10, PerMonth: 2}, Config{Now: frozenAt(&now)})
		fill(t, month, 2)
		err = month.Wait(context.Background(), vt.Request{})
		if !errors.As(err, &ex) || ex.Window != "month" || !ex.Reset.Equal(nextMonth) ||
			!strings.HasPrefix(err.Error(), "monthly budget of 2 requests spent; resets at "+nextMonth.Format(time.RFC3339)) {
			t.Fatalf("month: %v (%+v), want the reset at %v", err, ex, nextMonth)
		}
	})
}

// nextDate returns the first time after from, at 00:00 UTC, whose date satisfies ok.
func nextDate(from time.Time, ok func(time.Time) bool) time.Time {
	d := dayStart(from).AddDate(0, 0, 1)
	for !ok(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// TestDayAndMonthBoundaries spends a budget in the last seconds before each kind of
// boundary the next time it comes after the run: any midnight, the end of a month,
// the end of a year, and the end of a leap day. The day (and, at a month's end, the
// month) is refused until exactly the boundary, with that reset, and served from it;
// Usage tells the same resets before and after.
func TestDayAndMonthBoundaries(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		run := time.Now().UTC()
		isLeapDay := func(d time.Time) bool { return d.Month() == time.February && d.Day() == 29 }
		for _, c := range []struct {
			name     string
			boundary time.Time // 00:00 UTC that ends the day spent
			newMonth bool
		}{
			{"midnight", dayStart(run).AddDate(0, 0, 1), dayStart(run).AddDate(0, 0, 1).Day() == 1},
			{"end of a month", monthStart(run).AddDate(0, 1, 0), true},
			{"31 December", nextDate(run, func(d time.Time) bool { return d.Month() == time.January && d.Day() == 1 }), true},
			{"29 February", nextDate(run, func(d time.Time) bool { return isLeapDay(d.AddDate(0, 0, -1)) }), true},
			{"28 February of a leap year", nextDate(run, isLeapDay), false},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, s := b.newStore(t)
				now := c.boundary.Add(-10 * time.Second)
				if c.name == "29 February" && !isLeapDay(now) || c.name == "31 December" && (now.Month() != 12 || now.Day() != 31) {
					t.Fatalf("test set-up: the day before %v is %v", c.boundary, now)
				}
				monthEnd := monthStart(now).AddDate(0, 1, 0)
				if c.newMonth != monthEnd.Equal(c.boundary) {
					t.Fatalf("test set-up: %v ends a month: %v", c.boundary, !c.newMonth)
				}
				spec := Spec{PerMinute: 100, PerDay: 2, PerMonth: 4}
				l := New(s, "b", spec, Config{Now: frozenAt(&now)})
				// A unit of the day before counts in the month when it is the same month.
				monthUsed := 2
				if then := dayStart(now).Add(-12 * time.Hour); !then.Before(monthStart(now)) {
					fill(t, New(s, "b", spec, Config{Now: frozenAt(&then)}), 1)
					monthUsed++
				}
				fill(t, l, 2)
				err := l.Wait(context.Background(), vt.Request{})
				var ex *ExhaustedError
				if !errors.As(err, &ex) || !ex.Reset.Equal(c.boundary) {
					t.Fatalf("at %v: %v (%+v), want a spent budget resetting at %v", now, err, ex, c.boundary)
				}
				u, err := l.Usage(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if d := u.Windows[1]; d.Window != "day" || d.Left != 0 || !d.Resets.Equal(c.boundary) {
					t.Fatalf("day usage before %v: %+v", c.boundary, d)
				}
				if m := u.Windows[2]; m.Window != "month" || m.Used != monthUsed || !m.Resets.Equal(monthEnd) {
					t.Fatalf("month usage before %v: %+v, want the reset at %v", c.boundary, m, monthEnd)
				}

				now = c.boundary.Add(-time.Microsecond)
				if err := l.Wait(context.Background(), vt.Request{}); !errors.As(err, &ex) {
					t.Fatalf("a microsecond before %v: %v, want the budget still spent", c.boundary, err)
				}
				now = c.boundary
				if err := l.Wait(context.Background(), vt.Request{}); err != nil {
					t.Fatalf("at %v: %v, want a new day's budget", c.boundary, err)
				}
				u, _ = l.Usage(context.Background())
				nextDay, nextMonth := c.boundary.AddDate(0, 0, 1), monthStart(c.boundary).AddDate(0, 1, 0)
				if c.newMonth {
					monthUsed = 0
				}
				if d, m := u.Windows[1], u.Windows[2]; d.Used != 1 || !d.Resets.Equal(nextDay) || !m.Resets.Equal(nextMonth) || m.Used != monthUsed+1 {
					t.Fatalf("usage at %v: day %+v, month %+v", c.boundary, d, m)
				}
			})
		}
	})
}

// A spent day fails at once even while the minute is full too.
func TestExhaustedBeforeMinuteWait(t *testing.T) {
	inBubbleOnEachBackend(t, func(t *testing.T, dsn string, s store.Store) {
		l := New(s, "b", Spec{PerMinute: 1, PerDay: 1}, Config{})
		fill(t, l, 1)
		d, err := waitFor(l, vt.PriorityBackground, time.Hour)
		var ex *ExhaustedError
		if !errors.As(err, &ex) || d != 0 {
			t.Fatalf("err = %v after %v, want an ExhaustedError at once", err, d)
		}
	})
}

func TestWaitCancelledPassesTheTurnOn(t *testing.T) {
	inBubbleOnEachBackend(t, func(t *testing.T, dsn string, s store.Store) {
		l := New(s, "b", Spec{PerMinute: 1}, Config{})
		fill(t, l, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
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
		if d, err := waitFor(l, vt.PriorityInteractive, time.Hour); err != nil || !about(d, 56*time.Second) {
			t.Fatalf("after cancelled waiters: %v after %v, want a unit when the minute and its margin end (56s)", err, d)
		}
	})
}

func TestUsage(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		_, s := b.newStore(t)
		now := time.Now().UTC()
		l := New(s, "b", Public, Config{Now: frozenAt(&now)})
		fill(t, l, 3)
		u, err := l.Usage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := []WindowUsage{
			{Window: "minute", Limit: 4, Used: 3, Left: 1, Resets: now.Add(61 * time.Second).Truncate(time.Microsecond)},
			{Window: "day", Limit: 500, Used: 3, Left: 497, Resets: dayStart(now).AddDate(0, 0, 1)},
			{Window: "month", Limit: 15500, Used: 3, Left: 15497, Resets: monthStart(now).AddDate(0, 1, 0)},
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
	})
}

// Each unit is recorded for the requester its context names, on a limited budget
// (taken in the ledger's transaction) as on an unlimited one (written in batches),
// and Usage breaks the budget down by requester.
func TestUsageByRequester(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		_, s := b.newStore(t)
		for _, spec := range []Spec{Public, Premium} {
			l := New(s, "by-requester-"+spec.String(), spec, Config{})
			for _, who := range []string{GatewayRequester("misp"), RequesterCLI, GatewayRequester("misp"), ""} {
				if err := l.Wait(WithRequester(context.Background(), who), vt.Request{}); err != nil {
					t.Fatal(err)
				}
			}
			u, err := l.Usage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := []RequesterUsage{{"", 1, 1, 1}, {"cli", 1, 1, 1}, {"gateway:misp", 2, 2, 2}}
			if fmt.Sprint(u.Requesters) != fmt.Sprint(want) {
				t.Fatalf("%s: requesters = %+v, want %+v", spec, u.Requesters, want)
			}
		}
	})
}

// shiftedClock returns the bubble's clock (synctest's fake time) moved so that it reads
// at now: one clock, which the limiter's sleeps follow.
func shiftedClock(at time.Time) func() time.Time {
	off := time.Until(at)
	return func() time.Time { return time.Now().Add(off) }
}

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
// is a minute hold again. It runs in the five minutes before the next 00:00 UTC after
// the test starts.
func TestRefusedAfterAHoldIsASpentDay(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		reset := dayStart(time.Now()).AddDate(0, 0, 1)
		dsn := b.newDB(t)
		synctest.Test(t, func(t *testing.T) {
			s := openStore(t, dsn)
			const span = time.Minute + time.Second // the minute window with its margin
			cfg := Config{Now: shiftedClock(reset.Add(-5 * time.Minute))}
			l := New(s, "b", Premium, cfg)
			other := New(openStore(t, dsn), "b", Premium, cfg) // another process on the key
			req := vt.Request{Endpoint: "GET /files/{id}"}
			fill(t, l, 1)

			// The first 429 holds a minute window.
			l.Throttled(context.Background(), req, 0)
			if d, err := waitFor(l, vt.PriorityInteractive, time.Hour); err != nil || d != span {
				t.Fatalf("after a first 429: Wait = %v after %v, want a unit after %v", err, d, span)
			}
			// The retried request is refused again.
			l.Throttled(context.Background(), req, 0)
			assertSpentUntil(t, reset, l, other)
			if u, err := other.Usage(context.Background()); err != nil || !u.HeldUntil.Equal(reset) {
				t.Fatalf("usage of the spent budget: %+v, %v", u, err)
			}

			// At 00:00 UTC the budget serves again; a 429 then is a minute hold, not
			// another day.
			time.Sleep(reset.Sub(cfg.Now()))
			if now := cfg.Now(); !now.Equal(reset) {
				t.Fatalf("clock at %v, want %v", now, reset)
			}
			fill(t, l, 1)
			l.Throttled(context.Background(), req, 0)
			if d, err := waitFor(other, vt.PriorityInteractive, time.Hour); err != nil || d != span {
				t.Fatalf("429 after the reset: Wait = %v after %v, want a unit after %v", err, d, span)
			}
			// A 429 well after a hold ended is a minute hold too.
			time.Sleep(2 * span)
			other.Throttled(context.Background(), req, 0)
			if d, err := waitFor(l, vt.PriorityInteractive, time.Hour); err != nil || d != span {
				t.Fatalf("429 long after a hold: Wait = %v after %v, want a unit after %v", err, d, span)
			}
			// A Retry-After right after a hold is taken at its word.
			l.Throttled(context.Background(), req, 20*time.Second)
			if d, err := waitFor(l, vt.PriorityInteractive, time.Hour); err != nil || d != 20*time.Second {
				t.Fatalf("429 with Retry-After after a hold: Wait = %v after %v, want 20s", err, d)
			}
		})
	})
}

// A minute hold that ends after 00:00 UTC, followed by a refusal: the day VirusTotal
// found spent is the new one, until the next 00:00 UTC.
func TestRefusedAfterAHoldAcrossMidnight(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		midnight := dayStart(time.Now()).AddDate(0, 0, 1)
		dsn := b.newDB(t)
		synctest.Test(t, func(t *testing.T) {
			s := openStore(t, dsn)
			cfg := Config{Now: shiftedClock(midnight.Add(-10 * time.Second))}
			l := New(s, "b", Premium, cfg)
			other := New(openStore(t, dsn), "b", Premium, cfg)
			fill(t, l, 1)
			l.Throttled(context.Background(), vt.Request{}, 0)
			if _, err := waitFor(l, vt.PriorityInteractive, time.Hour); err != nil {
				t.Fatal(err)
			}
			if now := cfg.Now(); !now.After(midnight) {
				t.Fatalf("the hold ended at %v, before %v", now, midnight)
			}
			l.Throttled(context.Background(), vt.Request{}, 0)
			assertSpentUntil(t, midnight.AddDate(0, 0, 1), l, other)
		})
	})
}

// assertSpentUntil checks that every priority of every limiter fails at once with
// VirusTotal's spent day until reset.
func assertSpentUntil(t *testing.T, reset time.Time, limiters ...*Limiter) {
	t.Helper()
	for _, l := range limiters {
		for _, p := range []vt.Priority{vt.PriorityInteractive, vt.PriorityEnrichment, vt.PriorityBackground} {
			d, err := waitFor(l, p, time.Hour)
			var ex *ExhaustedError
			if !errors.As(err, &ex) || d != 0 {
				t.Fatalf("%v wait after a refused retry: %v after %v, want an ExhaustedError at once", p, err, d)
			}
			if ex.Window != "day" || !ex.Upstream || !ex.Reset.Equal(reset) || !vt.IsQuotaExceeded(err) ||
				!strings.Contains(err.Error(), "resets at "+reset.Format(time.RFC3339)) {
				t.Fatalf("spent day: %v (%+v), want the reset at %v", err, ex, reset)
			}
		}
	}
}

// A hold longer than the minute window fails an interactive request at once; queued
// work waits it out. A hold within the window makes everyone wait.
func TestLongHoldFailsInteractiveWaitsFast(t *testing.T) {
	inBubbleOnEachBackend(t, func(t *testing.T, dsn string, s store.Store) {
		l := New(s, "b", Premium, Config{})
		l.Throttled(context.Background(), vt.Request{}, 5*time.Minute)
		d, err := waitFor(l, vt.PriorityInteractive, time.Hour)
		var ex *ExhaustedError
		if !errors.As(err, &ex) || d != 0 {
			t.Fatalf("interactive wait during a 5-minute hold: %v after %v, want an ExhaustedError at once", err, d)
		}
		if ex.Window != "hold" || !ex.Reset.Equal(time.Now().Add(5*time.Minute).Truncate(time.Microsecond)) || !vt.IsQuotaExceeded(err) {
			t.Fatalf("long hold: %v (%+v)", err, ex)
		}
		var wg sync.WaitGroup
		for _, p := range []vt.Priority{vt.PriorityEnrichment, vt.PriorityBackground} {
			wg.Go(func() {
				if d, err := waitFor(l, p, time.Hour); err != nil || d != 5*time.Minute {
					t.Errorf("%v wait during a long hold: %v after %v, want a unit when it ends", p, err, d)
				}
			})
		}
		wg.Wait()

		short := New(s, "c", Premium, Config{})
		short.Throttled(context.Background(), vt.Request{}, time.Minute)
		if d, err := waitFor(short, vt.PriorityInteractive, time.Hour); err != nil || d != time.Minute {
			t.Fatalf("interactive wait during a hold of one minute: %v after %v, want a unit after it", err, d)
		}
	})
}
