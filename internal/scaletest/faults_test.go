package scaletest_test

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/scaletest"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/vtsim"
)

// faultEnv are the test-only settings of the fault tests: a one-second quota minute,
// and jobs of a dead replica rescued after 6s.
var faultEnv = []string{
	"VTSOAR_QUOTA_WINDOW=1s", "VTSOAR_QUOTA_MARGIN=250ms",
	"VTSOAR_JOB_TIMEOUT=4s", "VTSOAR_RESCUE_AFTER=6s", "VTSOAR_FETCH_POLL=200ms",
}

const faultWorkers = 8 // enrich.DefaultWorkers: the jobs one replica runs at once

// waitRequests waits until the emulator has answered n requests.
func waitRequests(t *testing.T, rec *scaletest.Recorder, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(rec.Requests()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests after %s, waited for %d", len(rec.Requests()), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkFetched fails the test for an artifact never fetched or fetched more than
// once, allowing `repeats` artifacts fetched twice; it returns the artifacts fetched
// twice.
func checkFetched(t *testing.T, rec *scaletest.Recorder, arts []scaletest.Artifact, repeats int) int {
	t.Helper()
	byEP := scaletest.ByEndpoint(rec.Requests())
	twice := 0
	for _, a := range arts {
		switch n := byEP[filePath(a)]; {
		case n == 0:
			t.Errorf("%s never fetched", a.Value[:12])
		case n == 2:
			twice++
		case n > 2:
			t.Errorf("%s fetched %d times", a.Value[:12], n)
		}
	}
	if twice > repeats {
		t.Errorf("%d artifacts fetched twice; at most %d can have been in flight", twice, repeats)
	}
	return twice
}

// rescued counts the jobs that more than one replica attempted.
func rescued(t *testing.T, st store.Store) int {
	t.Helper()
	var n int
	if err := st.(store.SQLDB).DB().QueryRow(`SELECT COUNT(*) FROM river_job WHERE cardinality(attempted_by) > 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReplicaKilledMidWork kills one of three replicas with SIGKILL while they
// enrich a flood of events: the other two finish its work (its running jobs are
// rescued), every event ends done, and only requests in flight at the kill may be
// repeated.
func TestReplicaKilledMidWork(t *testing.T) {
	const nArts = 200
	c := newCluster(t, "", vtsim.Options{Latency: 20 * time.Millisecond}, faultEnv...)
	c.start(3)
	c.addConnection(map[string]any{"name": "vt", "api_key": floodKey, "quota": "30/min"})
	arts := fileArtifacts("kill", nArts)
	started := time.Now()
	ids := c.postEvents(split(arts, 4), 3)
	waitRequests(t, c.rec, nArts/4, 60*time.Second)
	victim := c.replicas[0] // the first started: most likely River's leader
	victim.Kill()
	atKill := len(c.rec.Requests())
	t.Logf("replica 0 killed %s after the flood began, %d of %d artifacts fetched", time.Since(started).Round(time.Millisecond), atKill, nArts)
	evs := c.waitEvents(ids, 120*time.Second)
	checkEventsDone(t, evs)
	twice := checkFetched(t, c.rec, arts, faultWorkers)
	r := rescued(t, c.st)
	t.Logf("all done %s after the flood began; %d jobs rescued from the killed replica, %d artifacts fetched twice", time.Since(started).Round(time.Millisecond), r, twice)
	if r == 0 {
		t.Error("no job was taken over from the killed replica: it was not working when killed")
	}
}

// restartPort is the port of the dedicated cluster that the restart tests restart,
// while the cluster of VTSOAR_TEST_POSTGRES serves the other tests meanwhile: 20000
// plus the last four digits of its port, so that each cluster (one per developer or
// CI job, on its own port) has a restart cluster of its own, on a port below the
// ephemeral ones (32768 and up on Linux) that the tests' own connections take.
func restartPort(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(pgtest.BaseDSN(t))
	if err != nil {
		t.Fatalf("%s is not a URL", pgtest.EnvVar)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		port = 5432
	}
	return strconv.Itoa(20000 + port%10000)
}

// pgStart runs .ci/pg-start with args on restartPort and returns its standard output.
func pgStart(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join("..", "..", ".ci", "pg-start"), args...)
	cmd.Env = append(os.Environ(), "VTSOAR_PG_PORT="+restartPort(t))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf(".ci/pg-start %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// restartCluster starts the dedicated cluster (stopped when the test ends) and
// returns its DSN.
func restartCluster(t *testing.T) string {
	t.Helper()
	out := pgStart(t, "start")
	t.Cleanup(func() { pgStart(t, "stop") })
	_, dsn, ok := strings.Cut(strings.TrimSpace(out), "VTSOAR_TEST_POSTGRES='")
	if !ok {
		t.Fatalf(".ci/pg-start printed %q", out)
	}
	return strings.TrimSuffix(dsn, "'")
}

// TestPostgresRestartUnderLoad restarts PostgreSQL (pg_ctl restart -m fast, which
// ends every session) while three replicas enrich a flood of events and more events
// are posted: the replicas reconnect, every event accepted ends done, none is lost,
// and the replicas still run.
func TestPostgresRestartUnderLoad(t *testing.T) {
	needBinary(t)
	dsn := restartCluster(t)

	const nArts = 200
	c := newCluster(t, dsn, vtsim.Options{Latency: 20 * time.Millisecond}, faultEnv...)
	c.start(3)
	c.addConnection(map[string]any{"name": "vt", "api_key": floodKey, "quota": "30/min"})
	arts := fileArtifacts("restart", nArts)
	started := time.Now()
	ids := c.postEvents(split(arts[:nArts/2], 4), 3)
	waitRequests(t, c.rec, nArts/8, 60*time.Second)

	// The second half is posted while the database restarts: a post refused
	// meanwhile (5xx, or no answer) is sent again, as a client would.
	more := make(chan []string, 1)
	go func() { more <- c.postEvents(split(arts[nArts/2:], 4), 20) }()
	restartAt := time.Now()
	pgStart(t, "restart")
	t.Logf("PostgreSQL restarted in %s, %s after the flood began, %d requests sent by then",
		time.Since(restartAt).Round(time.Millisecond), restartAt.Sub(started).Round(time.Millisecond), len(c.rec.Requests()))
	ids = append(ids, <-more...)

	evs := c.waitEvents(ids, 150*time.Second)
	if n := checkEventsDone(t, evs); n != nArts {
		t.Errorf("%d artifacts in the events, posted %d", n, nArts)
	}
	// No answer is asked for twice: those that came while the database was down were
	// kept by their replica until it took them.
	twice := checkFetched(t, c.rec, arts, 0)
	for i, r := range c.replicas {
		if r.Exited() {
			t.Errorf("replica %d exited", i)
		}
	}
	t.Logf("all %d events done %s after the flood began; %d artifacts fetched twice", len(ids), time.Since(started).Round(time.Millisecond), twice)
}

// TestPostgresRestartMidEnrichmentAsksOnce restarts PostgreSQL while two replicas
// enrich an event of many distinct artifacts against the emulator, which runs in a
// process of its own: every artifact ends done, and the emulator was asked once per
// object. The answers that arrive while the database is down are kept by their
// replica (the store's cache backlog) and written once it is back, and the jobs wait
// for the store to record their verdicts, so that nothing paid for is asked again.
func TestPostgresRestartMidEnrichmentAsksOnce(t *testing.T) {
	bin := needBinary(t)
	dsn := restartCluster(t)
	c := newCluster(t, dsn, vtsim.Options{}, faultEnv...)
	emu, err := scaletest.StartEmulator(c.ctx, bin, filepath.Join(c.dir, "emulator.log"), "--latency", "300ms")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	c.logs = append(c.logs, filepath.Join(c.dir, "emulator.log"))
	c.start(2)
	c.addConnection(map[string]any{"name": "vt", "api_key": floodKey, "quota": "1000/min", "server_url": emu.URL})
	const nArts = 300
	arts := fileArtifacts("asks-once", nArts)
	started := time.Now()
	ids := c.postEvents([][]scaletest.Artifact{arts}, 3)
	fetched := func() int {
		t.Helper()
		st, err := emu.Stats(c.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.ByEndpoint["GET /files/{id}"]
	}
	for deadline := time.Now().Add(60 * time.Second); fetched() < nArts/4; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d objects fetched after 60s", fetched())
		}
	}
	before := fetched()
	restartAt := time.Now()
	pgStart(t, "restart")
	t.Logf("PostgreSQL restarted in %s, %s after the event was posted, %d of %d objects fetched by then",
		time.Since(restartAt).Round(time.Millisecond), restartAt.Sub(started).Round(time.Millisecond), before, nArts)
	if before >= nArts {
		t.Fatalf("the enrichment was over before the restart")
	}

	evs := c.waitEvents(ids, 150*time.Second)
	if n := checkEventsDone(t, evs); n != nArts {
		t.Errorf("%d artifacts in the event, posted %d", n, nArts)
	}
	st, err := emu.Stats(c.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != nArts || st.ByEndpoint["GET /files/{id}"] != nArts {
		t.Errorf("the emulator answered %d requests (%v) for %d distinct objects", st.Requests, st.ByEndpoint, nArts)
	}
	kept := 0
	for _, l := range c.logs {
		b, _ := os.ReadFile(l)
		kept += strings.Count(string(b), "the answer is kept in memory")
	}
	t.Logf("all %d artifacts done %s after the event was posted; %d requests; %d answers kept in memory while the database was down",
		nArts, time.Since(started).Round(time.Millisecond), st.Requests, kept)
}
