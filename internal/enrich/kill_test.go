package enrich_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vtsim"
)

// The kill test runs the service in a child process: this test binary, re-executed
// with these variables set, runs only the enrichment service on a database (a SQLite
// file or a PostgreSQL DSN) until it is killed.
const (
	envChildDB      = "VTSOAR_ENRICH_CHILD_DB"
	envChildWorkers = "VTSOAR_ENRICH_CHILD_WORKERS"
	childJobTimeout = 5 * time.Second
	childRescue     = 6 * time.Second
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envChildDB); path != "" {
		os.Exit(runChild(path))
	}
	os.Exit(m.Run())
}

func runChild(db string) int {
	ctx := context.Background()
	st, err := store.Open(ctx, db, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	workers, _ := strconv.Atoi(os.Getenv(envChildWorkers))
	s, err := enrich.New(ctx, st, enrich.Options{
		Cipher: testCipher(nil), Workers: workers, FetchPollInterval: 50 * time.Millisecond,
		JobTimeout: childJobTimeout, RescueStuckJobsAfter: childRescue,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	if err := s.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println("ready")
	select {} // until killed
}

func startChild(t *testing.T, path string, workers int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildDB+"="+path, envChildWorkers+"="+strconv.Itoa(workers))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("child did not start: %q, %v", line, err)
	}
	return cmd
}

// pathOf is the emulator path a reputation check of an artifact fetches.
func pathOf(t *testing.T, a enrich.Artifact) (ioc.Observable, string) {
	obs, err := ioc.ParseAs(a.Type, a.Value)
	if err != nil {
		t.Fatal(err)
	}
	coll := map[ioc.Kind]string{ioc.KindFile: "files", ioc.KindIP: "ip_addresses", ioc.KindURL: "urls", ioc.KindDomain: "domains"}[a.Type]
	return obs, "GET /api/v3/" + coll + "/" + obs.ID
}

// TestKillAndResume kills the process enriching 500 artifacts with SIGKILL while it
// works, starts another, and checks that the event ends with every artifact enriched
// and that no object whose answer was stored (as an artifact result, or in the cache)
// before the kill was fetched again. Only requests in flight at the kill (at most one
// per worker) may be repeated: their answer never reached the store.
func TestKillAndResume(t *testing.T) { eachBackend(t, testKillAndResume) }

func testKillAndResume(t *testing.T, b string) {
	if testing.Short() {
		t.Skip("kills and restarts a process; about 30s")
	}
	const (
		n       = 500
		workers = 8
	)
	e := newEnv(t, b, vtsim.Options{Latency: 25 * time.Millisecond, Jitter: 10 * time.Millisecond})
	const key = "kill-test-api-key-0123456789"
	e.addConn("prod", key, allKinds, nil, 0)

	// The submitting side does not work jobs: only the child processes do.
	submitter, err := enrich.New(e.ctx, e.st, enrich.Options{Cipher: e.cipher})
	if err != nil {
		t.Fatal(err)
	}
	arts := make([]enrich.Artifact, n)
	for i := range arts {
		switch i % 4 {
		case 0:
			h := sha256.Sum256([]byte("kill-test-" + strconv.Itoa(i)))
			arts[i] = enrich.Artifact{Type: ioc.KindFile, Value: hex.EncodeToString(h[:])}
		case 1:
			arts[i] = enrich.Artifact{Type: ioc.KindIP, Value: fmt.Sprintf("11.%d.%d.%d", i/65536, i/256%256, i%256)}
		case 2:
			arts[i] = enrich.Artifact{Type: ioc.KindDomain, Value: fmt.Sprintf("host-%d.vtsoar.net", i)}
		case 3:
			arts[i] = enrich.Artifact{Type: ioc.KindURL, Value: fmt.Sprintf("http://vtsoar.org/page/%d", i)}
		}
	}
	ev, err := submitter.SubmitEvent(e.ctx, enrich.NewEvent{Site: "hq", Artifacts: arts})
	if err != nil {
		t.Fatal(err)
	}

	started := time.Now()
	child := startChild(t, e.db, workers)
	sawEnriching := false
	deadline := time.Now().Add(60 * time.Second)
	var mid enrich.Event
	for {
		mid, err = submitter.GetEvent(e.ctx, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		sawEnriching = sawEnriching || mid.Status == "enriching"
		if mid.ArtifactsDone >= n/5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d artifacts enriched after 60s", mid.ArtifactsDone)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL: no clean-up at all
		t.Fatal(err)
	}
	child.Wait()

	// What was stored before the kill: artifact results, and answers in the cache.
	atKill, err := submitter.GetEvent(e.ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if atKill.ArtifactsDone >= n {
		t.Fatalf("all %d artifacts were done before the kill; the test proves nothing (slow the emulator down)", n)
	}
	if !sawEnriching {
		t.Error("the event was never seen enriching")
	}
	cacheAtKill := e.st.Cache(e.srv.URL)
	stored := make([]bool, n)
	nStored, nCachedOnly := 0, 0
	for i, a := range atKill.Artifacts {
		obs, _ := pathOf(t, arts[i])
		_, hit, err := cacheAtKill.Get(e.ctx, obs.Kind, obs.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		stored[i] = a.Status == "done" || hit
		if stored[i] {
			nStored++
		}
		if hit && a.Status != "done" {
			nCachedOnly++
		}
	}
	countsAtKill := e.count.paths()
	t.Logf("at the kill, %s after the start: %d artifacts done, %d more answers only in the cache, %d requests sent",
		time.Since(started).Round(time.Millisecond), atKill.ArtifactsDone, nCachedOnly, sum(countsAtKill))

	// A new process resumes; jobs that were running in the killed one are rescued
	// once they are older than RescueStuckJobsAfter.
	time.Sleep(childRescue)
	restarted := time.Now()
	startChild(t, e.db, workers)
	done := waitDone(t, submitter, ev.ID, 3*time.Minute)
	t.Logf("the second process finished the event %s after its start", time.Since(restarted).Round(time.Millisecond))

	final := e.count.paths()
	repeated := 0
	for i, a := range done.Artifacts {
		if a.Status != "done" {
			t.Errorf("artifact %d %s: %+v", i, a.Value, a)
		}
		_, path := pathOf(t, arts[i])
		switch got := final[path]; {
		case got == 0:
			t.Errorf("artifact %s: its object was never fetched (%s)", a.Value, path)
		case stored[i] && got != countsAtKill[path]:
			t.Errorf("artifact %s: answer stored before the kill, fetched again after it (%d then %d)", a.Value, countsAtKill[path], got)
		case got > 2:
			t.Errorf("artifact %s: fetched %d times", a.Value, got)
		case got == 2:
			repeated++
		}
	}
	t.Logf("after the restart: event %s, %d requests in all for %d objects; %d objects fetched twice (in flight at the kill)",
		done.RiskLevel, sum(final), n, repeated)
	if repeated > workers {
		t.Errorf("%d objects fetched twice; at most %d (one per worker) can have been in flight at the kill", repeated, workers)
	}
	if want := risk0(done); done.RiskLevelCode != want {
		t.Errorf("event risk %d, highest of artifacts %d", done.RiskLevelCode, want)
	}

	// River keeps job arguments in clear: they must hold no key.
	rows, err := e.st.(store.SQLDB).DB().QueryContext(e.ctx, `SELECT CAST(args AS TEXT) FROM river_job`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	jobs := 0
	for rows.Next() {
		var args string
		if err := rows.Scan(&args); err != nil {
			t.Fatal(err)
		}
		jobs++
		if strings.Contains(args, key) {
			t.Fatalf("a job's arguments hold the API key: %s", args)
		}
	}
	if jobs < n {
		t.Errorf("%d jobs in river_job, want at least %d", jobs, n)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// risk0 is the lowest risk code among an event's artifacts (the highest risk).
func risk0(ev enrich.Event) int {
	code := 4
	for i, a := range ev.Artifacts {
		if i == 0 || a.RiskLevelCode < code {
			code = a.RiskLevelCode
		}
	}
	return code
}
