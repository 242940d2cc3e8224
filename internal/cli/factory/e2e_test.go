package factory_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/scaletest"
	"github.com/vtsoar/vtsoar/internal/store/storetest"
	"github.com/vtsoar/vtsoar/vtsim"
)

// buildVtsoar builds the vtsoar binary into dir.
func buildVtsoar(t *testing.T, dir string) string {
	t.Helper()
	bin, err := scaletest.Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

type run struct {
	stdout, stderr string
	code           int
}

func vtsoar(t *testing.T, bin string, env []string, stdin string, args ...string) run {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := run{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("vtsoar %v: %v", args, err)
	}
	return r
}

func hashes(prefix string, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", prefix, i)))
		out = append(out, hex.EncodeToString(h[:]))
	}
	return out
}

type envelope struct {
	ReturnData  string `json:"return_data"`
	ContextData []struct {
		Input  string `json:"input"`
		Status string `json:"status"`
		ID     string `json:"id"`
	} `json:"context_data"`
	RawData []struct {
		Data struct {
			ID         string `json:"id"`
			Attributes struct {
				MD5 string `json:"md5"`
			} `json:"attributes"`
		} `json:"data"`
	} `json:"raw_data"`
	Errors []struct {
		StatusCode int    `json:"status_code"`
		Code       string `json:"code"`
	} `json:"errors"`
}

// TestTwoProcessesShareOneBudget is the end-to-end test of the store: two vtsoar
// processes run at once on one database and one stored key against an emulator whose
// quota equals the budget. The emulator's clock runs 30 times faster than the wall
// clock and vtsoar's quota minute is shortened to 2s to match (VTSOAR_QUOTA_WINDOW), so
// a "minute" lasts 2 seconds on both sides.
func TestTwoProcessesShareOneBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it")
	}
	const (
		perMinute = 5
		window    = 2 * time.Second
		perProc   = 6
	)
	dir := t.TempDir()
	bin := buildVtsoar(t, dir)

	base := time.Now().UTC().Truncate(time.Minute)
	start := time.Now()
	sim, err := vtsim.New(vtsim.Options{
		QuotaMinute: perMinute,
		Now:         func() time.Time { return base.Add(time.Since(start) * (time.Minute / window)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()

	apiKey := "e2e0c0ffee" + strings.Repeat("5eed", 13) + "99"
	db := filepath.Join(dir, "data", "vtsoar.db")
	env := []string{
		"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "XDG_DATA_HOME=" + filepath.Join(dir, "xdg"),
		"VTSOAR_DB=" + db,
		"VTSOAR_QUOTA_WINDOW=" + window.String(), "VTSOAR_QUOTA_MARGIN=100ms",
	}
	var outputs []string
	keep := func(r run) run { outputs = append(outputs, r.stdout, r.stderr); return r }

	r := keep(vtsoar(t, bin, env, apiKey+"\n", "connection", "add", "e2e", "--api-key-stdin",
		"--server-url", srv.URL, "--quota", fmt.Sprintf("%d/min", perMinute)))
	if r.code != 0 {
		t.Fatalf("connection add: exit %d\n%s", r.code, r.stderr)
	}

	// Two processes at once, different inputs, one budget.
	inputs := [][]string{hashes("proc-a", perProc), hashes("proc-b", perProc)}
	results := make([]run, 2)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = vtsoar(t, bin, env, strings.Join(inputs[i], "\n"),
				"check-file-reputation", "-", "--connection", "e2e", "-o", "json", "-v")
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	var envs [2]envelope
	for i, r := range results {
		keep(r)
		if r.code != 0 && r.code != 3 {
			t.Fatalf("process %d: exit %d\n%s", i, r.code, r.stderr)
		}
		if err := json.Unmarshal([]byte(r.stdout), &envs[i]); err != nil {
			t.Fatalf("process %d output: %v\n%s", i, err, r.stdout)
		}
		for _, e := range envs[i].Errors {
			if e.StatusCode != 404 {
				t.Errorf("process %d: error %d %s (only not-found expected)", i, e.StatusCode, e.Code)
			}
		}
	}
	st := sim.Stats()
	if st.ByStatus["429"] != 0 {
		t.Fatalf("the emulator answered 429 %d times: %v", st.ByStatus["429"], st.ByStatus)
	}
	if st.Requests != 2*perProc {
		t.Fatalf("%d requests for %d distinct inputs", st.Requests, 2*perProc)
	}
	// The ledger agrees: never more than the budget within a window.
	times := storetest.LedgerTimes(t, db, "") // every key's units
	if len(times) != 2*perProc {
		t.Fatalf("ledger holds %d units, %d requests were sent", len(times), st.Requests)
	}
	for i := perMinute; i < len(times); i++ {
		if d := times[i].Sub(times[i-perMinute]); d < window {
			t.Fatalf("%d units within %v (budget %d per %v)", perMinute+1, d, perMinute, window)
		}
	}
	// 12 requests at 5 per window need at least two full windows.
	if minimum := 2 * window; elapsed < minimum {
		t.Fatalf("the budget was not waited for: %v", elapsed)
	}
	t.Logf("2 processes, %d requests in %v, statuses %v", st.Requests, elapsed.Round(time.Millisecond), st.ByStatus)

	// A second run of the same inputs costs nothing.
	r = keep(vtsoar(t, bin, env, strings.Join(inputs[0], "\n"), "check-file-reputation", "-", "--connection", "e2e", "-o", "json"))
	if r.code != results[0].code {
		t.Fatalf("second run: exit %d, first %d\n%s", r.code, results[0].code, r.stderr)
	}
	if n := sim.Stats().Requests; n != st.Requests {
		t.Fatalf("the second run sent %d requests", n-st.Requests)
	}

	// An md5 query after the sha256 fetch of the same file costs nothing.
	if len(envs[0].RawData) == 0 {
		t.Fatal("no file of process A was found")
	}
	found := envs[0].RawData[0].Data
	r = keep(vtsoar(t, bin, env, "", "check-file-reputation", found.Attributes.MD5, "--connection", "e2e", "-o", "json"))
	var byMD5 envelope
	if err := json.Unmarshal([]byte(r.stdout), &byMD5); err != nil || r.code != 0 {
		t.Fatalf("md5 query: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if byMD5.ContextData[0].ID != found.ID {
		t.Fatalf("md5 query answered id %s, want %s", byMD5.ContextData[0].ID, found.ID)
	}
	if n := sim.Stats().Requests; n != st.Requests {
		t.Fatalf("the md5 query sent %d requests", n-st.Requests)
	}

	// --fresh asks again, and costs one unit.
	keep(vtsoar(t, bin, env, "", "check-file-reputation", found.Attributes.MD5, "--connection", "e2e", "--fresh", "-o", "json"))
	if n := sim.Stats().Requests; n != st.Requests+1 {
		t.Fatalf("--fresh sent %d requests, want 1", n-st.Requests)
	}

	// quota and cache report it.
	r = keep(vtsoar(t, bin, env, "", "quota", "--connection", "e2e", "-o", "json"))
	var usage []struct {
		Windows []struct {
			Window string `json:"window"`
			Used   int    `json:"used"`
		} `json:"windows"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &usage); err != nil || len(usage) != 1 {
		t.Fatalf("quota: %v\n%s%s", err, r.stdout, r.stderr)
	}
	for _, w := range usage[0].Windows {
		if w.Window == "day" && w.Used != st.Requests+1 {
			t.Fatalf("quota shows %d used today, %d were sent", w.Used, st.Requests+1)
		}
	}
	r = keep(vtsoar(t, bin, env, "", "cache", "stats", "-o", "json"))
	var stats []struct {
		Server  string `json:"server_url"`
		Entries int    `json:"entries"`
		Hits    int    `json:"hits"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &stats); err != nil || len(stats) != 1 {
		t.Fatalf("cache stats: %v\n%s%s", err, r.stdout, r.stderr)
	}
	if stats[0].Entries != 2*perProc || stats[0].Hits < perProc+1 {
		t.Fatalf("cache stats %+v: want %d entries and at least %d hits", stats[0], 2*perProc, perProc+1)
	}
	keep(vtsoar(t, bin, env, "", "connection", "list", "-o", "json"))
	keep(vtsoar(t, bin, env, "", "connection", "list"))

	// The key appears nowhere: outputs, logs, database files.
	for i, o := range outputs {
		if strings.Contains(o, apiKey) {
			t.Fatalf("output %d shows the API key:\n%s", i, o)
		}
	}
	files, _ := filepath.Glob(db + "*")
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(apiKey)) {
			t.Fatalf("%s holds the API key in clear", filepath.Base(f))
		}
	}
	if !strings.Contains(results[0].stderr, "virustotal request") {
		t.Fatalf("-v logged no request: the log check checked nothing:\n%s", results[0].stderr)
	}
}
