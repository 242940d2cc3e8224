package enrich_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vtsim"
)

// replica starts a service on a store of its own on the env's database, as another
// process would; both are closed when the test ends.
func (e *env) replica(opts enrich.Options) *enrich.Service {
	e.t.Helper()
	st, err := store.Open(e.ctx, e.db, store.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	if opts.Cipher == nil {
		opts.Cipher = e.cipher
	}
	if opts.FetchPollInterval == 0 {
		opts.FetchPollInterval = 50 * time.Millisecond
	}
	s, err := enrich.New(e.ctx, st, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := s.Start(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			e.t.Error(err)
		}
	})
	return s
}

// TestReplicasHealthOncePerInterval runs three services on one database: the
// scheduled health check of a connection runs once per interval in all (the sweep is
// the leader's periodic job, and a check is unique per connection and interval
// slot), not once per replica; and an event submitted to one replica is enriched
// once, each artifact fetched once, by whichever replicas take its jobs.
func TestReplicasHealthOncePerInterval(t *testing.T) {
	eachBackend(t, testReplicasHealthOncePerInterval)
}

func testReplicasHealthOncePerInterval(t *testing.T, b string) {
	const (
		minute = 400 * time.Millisecond // the interval: HealthCheckMinutes 1
		sweep  = 100 * time.Millisecond
		run    = 4 * time.Second
	)
	e := newEnv(t, b, vtsim.Options{})
	const key = "replica-health-key"
	e.addConn("probe", key, allKinds, nil, 1)
	opts := enrich.Options{HealthMinute: minute, HealthSweepInterval: sweep}
	var svcs []*enrich.Service
	for range 3 {
		svcs = append(svcs, e.replica(opts))
	}
	arts := make([]enrich.Artifact, 40)
	for i := range arts {
		arts[i] = enrich.Artifact{Type: ioc.KindDomain, Value: "replica-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".example.com"}
	}
	ev, err := svcs[1].SubmitEvent(e.ctx, enrich.NewEvent{Artifacts: arts})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	done := waitDone(t, svcs[2], ev.ID, 30*time.Second)
	for i, a := range done.Artifacts {
		if a.Status != "done" {
			t.Errorf("artifact %d: %+v", i, a)
		}
	}
	paths := e.count.paths()
	for _, a := range arts {
		if _, path := pathOf(t, a); paths[path] != 1 {
			t.Errorf("%s fetched %d times, want once", path, paths[path])
		}
	}
	// River's leader starts its periodic jobs a few seconds after it is elected
	// (its maintenance services start one by one, each after a random delay of up
	// to a second): count from the first check on.
	var first time.Time
	for deadline := time.Now().Add(15 * time.Second); first.IsZero(); time.Sleep(20 * time.Millisecond) {
		hist, err := svcs[0].HealthHistory(e.ctx, "probe", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) > 0 {
			first = hist[len(hist)-1].At
		}
		if time.Now().After(deadline) {
			t.Fatalf("no health check %s after the start", time.Since(started))
		}
	}
	time.Sleep(run)
	hist, err := svcs[0].HealthHistory(e.ctx, "probe", 0)
	if err != nil {
		t.Fatal(err)
	}
	checks := e.count.paths()["GET /api/v3/users/"+key]
	elapsed := hist[0].At.Sub(first)
	t.Logf("%s: %d checks in %s at an interval of %s (%d requests)", b, len(hist), elapsed.Round(time.Millisecond), minute, checks)
	if checks != len(hist) {
		t.Errorf("%d checks recorded, %d sent", len(hist), checks)
	}
	// A check is due once minute-sweep/2 has passed since the last one, and a
	// sweep looks every `sweep`: between the first and the last check, one check
	// per minute-sweep/2 .. minute+sweep.
	maxChecks := int(elapsed/(minute-sweep/2)) + 1
	minChecks := int(run/(minute+sweep)) - 1
	if len(hist) > maxChecks || len(hist) < minChecks {
		t.Errorf("%d checks in %s, want %d..%d (one per interval in all, not one per replica)", len(hist), elapsed, minChecks, maxChecks)
	}
	for i := 1; i < len(hist); i++ { // newest first
		if gap := hist[i-1].At.Sub(hist[i].At); gap < minute-sweep {
			t.Errorf("checks %s apart (at %s and %s), interval %s", gap, hist[i].At, hist[i-1].At, minute)
		}
	}
}
