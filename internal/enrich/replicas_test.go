package enrich_test

import (
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
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
	return e.serviceOn(st, opts)
}

// TestReplicasHealthOncePerInterval runs three services on one database, in a synctest
// bubble with real minutes: the
// scheduled health check of a connection runs once per interval in all (the sweep is
// the leader's periodic job, and a check is unique per connection and interval
// slot), not once per replica; and an event submitted to one replica is enriched
// once, each artifact fetched once, by whichever replicas take its jobs.
func TestReplicasHealthOncePerInterval(t *testing.T) {
	inBubble(t, testReplicasHealthOncePerInterval)
}

func testReplicasHealthOncePerInterval(t *testing.T, e *env) {
	const sweep = 10 * time.Second
	const key = "replica-health-key"
	e.addConn("probe", key, allKinds, nil, 1)
	opts := enrich.Options{HealthSweepInterval: sweep}
	var svcs []*enrich.Service
	for range 3 {
		svcs = append(svcs, e.replica(opts))
	}
	arts := make([]enrich.Artifact, 40)
	for i := range arts {
		arts[i] = enrich.Artifact{Type: ioc.KindDomain, Value: "replica-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".vtsoar.net"}
	}
	ev, err := svcs[1].SubmitEvent(e.ctx, enrich.NewEvent{Artifacts: arts})
	if err != nil {
		t.Fatal(err)
	}
	done := waitDone(t, svcs[2], ev.ID, time.Minute)
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
	// River's leader starts its periodic jobs a few seconds after it is elected (its
	// maintenance services start one by one, each after a random delay): ten
	// minutes of the service's time after that, the connection checked every minute
	// has been checked once a minute in all, not once per replica.
	time.Sleep(time.Minute)
	hist, err := svcs[0].HealthHistory(e.ctx, "probe", 0)
	if err != nil || len(hist) == 0 {
		t.Fatalf("no health check a minute after the start: %v", err)
	}
	first := hist[len(hist)-1].At
	time.Sleep(time.Until(first.Add(10*time.Minute + sweep/2)))
	if hist, err = svcs[0].HealthHistory(e.ctx, "probe", 0); err != nil {
		t.Fatal(err)
	}
	checks := e.count.paths()["GET /api/v3/users/"+key]
	if checks != len(hist) {
		t.Errorf("%d checks recorded, %d sent", len(hist), checks)
	}
	if len(hist) != 11 {
		t.Errorf("%d checks in the ten minutes after the first, want 11 (one per interval in all, not one per replica)", len(hist))
	}
	for i := 1; i < len(hist); i++ { // newest first
		// A check is due half a sweep before its interval is over.
		if gap := hist[i-1].At.Sub(hist[i].At); gap < time.Minute-sweep/2 || gap > time.Minute+sweep {
			t.Errorf("checks %s apart (at %s and %s), want a minute give or take a sweep", gap, hist[i].At, hist[i-1].At)
		}
	}
}
