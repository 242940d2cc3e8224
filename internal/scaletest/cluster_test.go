package scaletest_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/scaletest"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/vtsim"
)

// binary is the vtsoar binary, built by TestMain when PostgreSQL tests can run.
var (
	binary   string
	buildErr error
)

func TestMain(m *testing.M) {
	code := func() int {
		flag.Parse()
		if os.Getenv(pgtest.EnvVar) == "" || testing.Short() {
			return m.Run() // the replica tests skip (or fail under CI=true)
		}
		dir, err := os.MkdirTemp("", "vtsoar-scale-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary, buildErr = scaletest.Build(context.Background(), dir)
		return m.Run()
	}()
	os.Exit(code)
}

// needBinary returns the vtsoar binary, skipping the test without PostgreSQL (a
// failure under CI=true) and in -short mode.
func needBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs vtsoar serve replicas on PostgreSQL; not in -short mode")
	}
	pgtest.BaseDSN(t)
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	if binary == "" {
		t.Fatal("the vtsoar binary was not built")
	}
	return binary
}

// cluster is a PostgreSQL database, an emulator in this process, and vtsoar serve
// replicas on that database.
type cluster struct {
	t         *testing.T
	ctx       context.Context
	bin       string
	dsn       string
	masterKey string
	dir       string
	env       []string
	st        store.Store // the test's own view of the database
	sim       *vtsim.Server
	rec       *scaletest.Recorder
	emu       *httptest.Server
	api       *scaletest.API
	replicas  []*scaletest.Replica
	logs      []string
	// sharedData gives the replicas started from then on one --data-dir (a shared
	// volume), instead of one each.
	sharedData bool
}

// newCluster makes the database (dsn, or a fresh one when empty), an admin token and
// the emulator; replicas are started with start.
func newCluster(t *testing.T, dsn string, simOpts vtsim.Options, env ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, ctx: context.Background(), bin: needBinary(t), dir: t.TempDir(), env: env}
	if dsn == "" {
		dsn = pgtest.DSN(t)
	}
	c.dsn = dsn
	var k [32]byte
	rand.Read(k[:])
	c.masterKey = hex.EncodeToString(k[:])
	st, err := store.Open(c.ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c.st = st
	token, err := auth.CreateUser(c.ctx, st, "admin", store.RoleAdmin, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.api = &scaletest.API{Token: token, Client: &http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 32}}}
	c.sim = vtsim.MustNew(simOpts)
	c.rec = scaletest.NewRecorder(c.sim)
	c.emu = httptest.NewServer(c.rec)
	t.Cleanup(c.emu.Close)
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range c.logs {
				b, _ := os.ReadFile(l)
				if len(b) > 4000 {
					b = b[len(b)-4000:]
				}
				t.Logf("--- end of %s:\n%s", filepath.Base(l), b)
			}
		}
	})
	return c
}

// start starts n more replicas.
func (c *cluster) start(n int) {
	c.t.Helper()
	for range n {
		i := len(c.replicas)
		log := filepath.Join(c.dir, fmt.Sprintf("replica-%d.log", i))
		data := filepath.Join(c.dir, fmt.Sprintf("data-%d", i))
		if c.sharedData {
			data = filepath.Join(c.dir, "data")
		}
		os.MkdirAll(data, 0o700)
		r, err := scaletest.StartReplica(c.ctx, scaletest.ReplicaConfig{
			Binary: c.bin, DB: c.dsn, MasterKey: c.masterKey, DataDir: data, LogPath: log,
			Env: append([]string{"XDG_DATA_HOME=" + data}, c.env...),
		})
		if err != nil {
			c.t.Fatal(err)
		}
		c.t.Cleanup(func() { r.Stop() })
		c.replicas = append(c.replicas, r)
		c.logs = append(c.logs, log)
	}
}

// addConnection creates a connection through the first replica's REST API.
func (c *cluster) addConnection(body map[string]any) {
	c.t.Helper()
	if _, ok := body["server_url"]; !ok {
		body["server_url"] = c.emu.URL
	}
	if _, err := c.api.Do(c.ctx, "POST", c.replicas[0].URL+"/api/v1/connections", body, nil); err != nil {
		c.t.Fatal(err)
	}
}

// live returns the replicas that still run.
func (c *cluster) live() []*scaletest.Replica {
	var out []*scaletest.Replica
	for _, r := range c.replicas {
		if !r.Exited() {
			out = append(out, r)
		}
	}
	return out
}

// postEvents posts events round-robin to the live replicas, from 8 clients at once,
// retrying a post that fails for a transport error or a 5xx (at most `tries` times).
// It returns the ids in the order of events.
func (c *cluster) postEvents(events [][]scaletest.Artifact, tries int) []string {
	c.t.Helper()
	ids := make([]string, len(events))
	errs := make([]error, len(events))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, arts := range events {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			for try := 0; try < tries; try++ {
				live := c.live()
				r := live[(i+try)%len(live)]
				var ev scaletest.Event
				status, err := c.api.Do(c.ctx, "POST", r.URL+"/api/v1/events", map[string]any{"artifacts": arts}, &ev)
				if err == nil {
					ids[i] = ev.ID
					return
				}
				errs[i] = err
				if status != 0 && status < 500 {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if ids[i] == "" {
			c.t.Fatalf("event %d not accepted: %v", i, err)
		}
	}
	return ids
}

// waitEvents polls the events (round-robin over the live replicas) until every one
// is done, and returns them.
func (c *cluster) waitEvents(ids []string, timeout time.Duration) []scaletest.Event {
	c.t.Helper()
	out := make([]scaletest.Event, len(ids))
	deadline := time.Now().Add(timeout)
	for n := 0; ; n++ {
		pending := 0
		for i, id := range ids {
			if out[i].Status == "done" {
				continue
			}
			live := c.live()
			r := live[(i+n)%len(live)]
			var ev scaletest.Event
			if _, err := c.api.Do(c.ctx, "GET", r.URL+"/api/v1/events/"+id, nil, &ev); err != nil {
				pending++
				continue // a replica may be restarting its connections
			}
			out[i] = ev
			if ev.Status != "done" {
				pending++
			}
		}
		if pending == 0 {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d of %d events not done after %s", pending, len(ids), timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// fileArtifacts returns n distinct file artifacts (SHA-256 hashes) named by prefix,
// all known to the emulator (it does not know a hash whose own SHA-256 starts with a
// 0 hex digit).
func fileArtifacts(prefix string, n int) []scaletest.Artifact {
	out := make([]scaletest.Artifact, 0, n)
	for i := 0; len(out) < n; i++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", prefix, i)))
		v := hex.EncodeToString(h[:])
		if d := sha256.Sum256([]byte(v)); d[0]>>4 == 0 {
			continue
		}
		out = append(out, scaletest.Artifact{Type: "file", Value: v})
	}
	return out
}

// split groups artifacts into events of size each.
func split(arts []scaletest.Artifact, size int) [][]scaletest.Artifact {
	var out [][]scaletest.Artifact
	for len(arts) > 0 {
		n := min(size, len(arts))
		out = append(out, arts[:n])
		arts = arts[n:]
	}
	return out
}

// filePath is the emulator endpoint of a file artifact's report.
func filePath(a scaletest.Artifact) string { return "GET /api/v3/files/" + a.Value }

// checkEventsDone fails the test for any artifact that is not done.
func checkEventsDone(t *testing.T, evs []scaletest.Event) int {
	t.Helper()
	n := 0
	for _, ev := range evs {
		for _, a := range ev.Artifacts {
			n++
			if a.Status != "done" {
				t.Errorf("event %s: artifact %s %s: status %s, error %q", ev.ID, a.Type, a.Value, a.Status, a.Error)
			}
		}
	}
	return n
}

// noKeyInDatabase reads every row of every table of the database's own schemas as
// text and fails the test if one holds a key in clear.
func noKeyInDatabase(t *testing.T, st store.Store, keys ...string) {
	t.Helper()
	db := st.(store.SQLDB).DB()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT table_schema, table_name FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var schema, name string
		if err := rows.Scan(&schema, &name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, fmt.Sprintf("%q.%q", schema, name))
	}
	rows.Close()
	if len(tables) < 5 {
		t.Fatalf("only %d tables found: %v", len(tables), tables)
	}
	total := 0
	for _, tbl := range tables {
		rows, err := db.QueryContext(ctx, `SELECT CAST(t AS TEXT) FROM `+tbl+` AS t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			total++
			for _, k := range keys {
				// Also hex-encoded, as a bytea column prints.
				if strings.Contains(row, k) || strings.Contains(row, hex.EncodeToString([]byte(k))) {
					t.Errorf("table %s holds an API key in clear", tbl)
				}
			}
		}
		rows.Close()
	}
	t.Logf("no key in %d rows of %d tables", total, len(tables))
}

// noKeyInLogs fails the test if a replica's log holds a key.
func (c *cluster) noKeyInLogs(keys ...string) {
	c.t.Helper()
	for _, l := range c.logs {
		b, err := os.ReadFile(l)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, k := range keys {
			if strings.Contains(string(b), k) {
				c.t.Errorf("%s holds an API key", filepath.Base(l))
			}
		}
	}
}
