package main_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/vtsim"
)

// line is a line of a process's output and when it was read.
type line struct {
	at   time.Time
	text string
}

// TestWaitLineOnStderr runs the built binary on a public budget whose minute is
// shortened to 4 s (the test knobs): the 5th of 6 inputs waits for the budget, and a
// line on stderr says so within a second of the wait starting (the 4th answer), once,
// with the minute's use and when the next request may leave; with -v the wait is
// logged too; with -o jsonl on stdout no line is written.
func TestWaitLineOnStderr(t *testing.T) {
	sim := vtsim.MustNew(vtsim.Options{})
	var mu sync.Mutex
	var answered []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		mu.Lock()
		answered = append(answered, time.Now())
		mu.Unlock()
	}))
	defer srv.Close()
	var in []string
	for i := range 6 {
		in = append(in, find(t, fmt.Sprint("wait", i), exists))
	}
	run := func(extra ...string) ([]line, string) {
		t.Helper()
		mu.Lock()
		answered = nil
		mu.Unlock()
		home := t.TempDir()
		cmd := exec.Command(binary, append(append([]string{"--concurrency", "1"}, extra...), append([]string{"check-file-reputation"}, in...)...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_DATA_HOME=" + filepath.Join(home, "data"),
			"VTSOAR_MASTER_KEY=", "VT_SERVER_URL=" + srv.URL, "VT_API_KEY=k", "VTSOAR_QUOTA=public",
			"VTSOAR_QUOTA_WINDOW=4s", "VTSOAR_QUOTA_MARGIN=100ms"}
		var stdout strings.Builder
		cmd.Stdout = &stdout
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var lines []line
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines = append(lines, line{time.Now(), sc.Text()})
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("exit: %v\n%v", err, lines)
		}
		return lines, stdout.String()
	}

	lines, _ := run("-o", "json")
	var waits []line
	for _, l := range lines {
		if strings.HasPrefix(l.text, "waiting for the public budget") {
			waits = append(waits, l)
		}
	}
	if len(waits) != 1 {
		t.Fatalf("%d wait lines, want 1 (6 inputs, 4 a minute):\n%v", len(waits), lines)
	}
	re := regexp.MustCompile(`^waiting for the public budget: 4 requests this minute used, next at \d\d:\d\d:\d\d \((\d+) s\)$`)
	m := re.FindStringSubmatch(waits[0].text)
	if m == nil || (m[1] != "4" && m[1] != "5") {
		t.Fatalf("wait line %q, want 4 used and the next about 4 s ahead", waits[0].text)
	}
	mu.Lock()
	fourth := answered[3]
	fifth := answered[4]
	mu.Unlock()
	if d := waits[0].at.Sub(fourth); d < 0 || d > time.Second {
		t.Fatalf("the wait line came %v after the wait began (the 4th answer), want within 1 s", d)
	}
	if fifth.Sub(fourth) < 3*time.Second {
		t.Fatalf("the 5th request left %v after the 4th: it did not wait", fifth.Sub(fourth))
	}

	// -v logs the wait; -o jsonl writes no wait line on stderr.
	lines, _ = run("-o", "json", "-v")
	logged := false
	for _, l := range lines {
		logged = logged || strings.Contains(l.text, "quota: waiting for the budget")
	}
	if !logged {
		t.Errorf("-v did not log the wait:\n%v", lines)
	}
	lines, stdout := run("-o", "jsonl")
	for _, l := range lines {
		if strings.HasPrefix(l.text, "waiting for") {
			t.Errorf("a wait line with -o jsonl: %q", l.text)
		}
	}
	if strings.Count(stdout, "\n") != 6 {
		t.Errorf("jsonl stdout:\n%s", stdout)
	}
}
