package scaletest_test

import (
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/scaletest"
	"github.com/vtsoar/vtsoar/vtsim"
)

// Keys of the emulator: the budgeted key that enriches, and the probe whose health is
// checked on a schedule.
const (
	floodKey = "flood-key-7c1f0e2a9b8d4c3e5f6a7b8c9d0e1f2a"
	probeKey = "probe-key-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
)

// TestThreeReplicasOneBudget runs three `vtsoar serve` replicas on one PostgreSQL
// database with one connection whose key has a budget of R requests a minute (the
// minute shortened to `window` for every replica and for the emulator, whose own
// per-minute quota is R), and floods them with events posted round-robin. The
// emulator must see no 429 and never more than R requests of the key within a
// window; every event ends done and each distinct artifact is fetched exactly once
// (one queue, one cache); events posted again later are answered from the shared
// cache without a request; the scheduled health check of a second connection runs
// once per interval in all, not once per replica; and no key is in clear in the
// database or in a replica's log.
func TestThreeReplicasOneBudget(t *testing.T) {
	const (
		window   = 2 * time.Second
		margin   = 400 * time.Millisecond // the ledger's margin beyond the window
		R        = 20
		nArts    = 150
		perEvent = 3
		healthIv = 2 * time.Second // a "minute" of health_check_minutes
		sweep    = 250 * time.Millisecond
	)
	c := newCluster(t, "", vtsim.Options{QuotaMinute: R, Now: scaletest.ScaledClock(window)},
		"VTSOAR_QUOTA_WINDOW="+window.String(), "VTSOAR_QUOTA_MARGIN="+margin.String(),
		"VTSOAR_HEALTH_MINUTE="+healthIv.String(), "VTSOAR_HEALTH_SWEEP="+sweep.String(),
		"VTSOAR_FETCH_POLL=200ms")
	c.start(3)
	c.addConnection(map[string]any{"name": "vt", "api_key": floodKey, "quota": "20/min",
		"reputation_checks": []string{"file", "ip", "url", "domain"}, "health_check_minutes": 0})
	c.addConnection(map[string]any{"name": "probe", "api_key": probeKey, "quota": "premium",
		"reputation_checks": []string{}, "health_check_minutes": 1})

	arts := fileArtifacts("flood", nArts)
	started := time.Now()
	ids := c.postEvents(split(arts, perEvent), 3)
	posted := time.Since(started)
	evs := c.waitEvents(ids, 90*time.Second)
	took := time.Since(started)
	if n := checkEventsDone(t, evs); n != nArts {
		t.Errorf("%d artifacts in the events, posted %d", n, nArts)
	}

	reqs := c.rec.Requests()
	var keyReqs []scaletest.Request
	for _, r := range reqs {
		if r.Key == floodKey {
			keyReqs = append(keyReqs, r)
		}
	}
	byEP := scaletest.ByEndpoint(keyReqs)
	for _, a := range arts {
		if n := byEP[filePath(a)]; n != 1 {
			t.Errorf("%s fetched %d times, want once", a.Value[:12], n)
		}
	}
	if len(keyReqs) != nArts {
		t.Errorf("%d requests with the budgeted key for %d distinct artifacts: %v", len(keyReqs), nArts, byEP)
	}
	if st := scaletest.ByStatus(reqs); st[429] != 0 {
		t.Errorf("the emulator answered 429 %d times (statuses %v)", st[429], st)
	}
	most, at := scaletest.MaxInWindow(keyReqs, floodKey, window)
	if most > R {
		t.Errorf("%d requests of the key within %s from %s, budget %d", most, window, at.Format("15:04:05.000"), R)
	}
	t.Logf("%d events (%d artifacts) posted in %s, all done after %s; %d requests of the key, at most %d in a window of %s (budget %d)",
		len(ids), nArts, posted.Round(time.Millisecond), took.Round(time.Millisecond), len(keyReqs), most, window, R)

	// Health checks of the probe: once per interval in all.
	var checks []time.Time
	for _, r := range reqs {
		if r.Endpoint == "GET /api/v3/users/"+probeKey {
			checks = append(checks, r.At)
		}
	}
	if len(checks) < 2 {
		t.Fatalf("%d health checks of the probe in %s", len(checks), took)
	}
	span := checks[len(checks)-1].Sub(checks[0])
	// A check is due once healthIv-sweep/2 passed since the last; three replicas
	// each checking would make three times as many.
	maxChecks := int(span/(healthIv-sweep/2)) + 1
	minChecks := int(span/(healthIv+2*sweep)) + 1
	t.Logf("%d health checks of the probe in %s (interval %s)", len(checks), span.Round(time.Millisecond), healthIv)
	if len(checks) > maxChecks || len(checks) < minChecks {
		t.Errorf("%d health checks in %s, want %d..%d: one per interval in all", len(checks), span, minChecks, maxChecks)
	}
	for i := 1; i < len(checks); i++ {
		if gap := checks[i].Sub(checks[i-1]); gap < healthIv-2*sweep {
			t.Errorf("two health checks %s apart, interval %s", gap, healthIv)
		}
	}

	// The same artifacts again, on other replicas: answered from the shared cache.
	before := len(c.rec.Requests())
	again := split(arts[:30], 5)
	evs = c.waitEvents(c.postEvents(again, 3), 30*time.Second)
	checkEventsDone(t, evs)
	var extra []string
	for _, r := range c.rec.Requests()[before:] {
		if r.Key == floodKey {
			extra = append(extra, r.Endpoint)
		}
	}
	if len(extra) != 0 {
		t.Errorf("artifacts enriched before were fetched again: %v", extra)
	}

	noKeyInDatabase(t, c.st, floodKey, probeKey)
	c.noKeyInLogs(floodKey, probeKey)
}
