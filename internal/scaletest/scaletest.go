// Package scaletest runs `vtsoar serve` replicas as real processes on one PostgreSQL
// database, against an emulator in the calling process, for the scale-out and fault
// tests of this package and the figures of bench/scale.
//
// It builds the vtsoar binary (Build), starts and kills replicas (StartReplica), runs
// the emulator in a process of its own when a test needs it there (StartEmulator),
// records what the emulator was asked (Recorder: time, endpoint, key and status of
// every request), gives the emulator a clock on which a minute lasts a chosen window
// (ScaledClock, so that its per-minute quota turns as fast as the replicas' shortened
// quota minute), and calls the REST API (API).
package scaletest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vtsoar/vtsoar/internal/cli/testknobs"
	"github.com/vtsoar/vtsoar/vtsim"
)

// TestKnobsTag is the build tag that compiles the test knobs (package
// internal/cli/testknobs) into the binary.
const TestKnobsTag = "vtsoar_testknobs"

// Build builds the vtsoar binary for the tests that run it as processes into dir and
// returns its path: as released (CGO_ENABLED=0) plus the test knobs (TestKnobsTag),
// which stay inert unless their environment variables are set. It runs the go command
// found on PATH, or in $GOROOT/bin, in the module of the working directory. Every
// test that runs the real binary builds it here.
func Build(ctx context.Context, dir string) (string, error) {
	return build(ctx, dir, "-tags", TestKnobsTag)
}

// BuildRelease builds the vtsoar binary exactly as released, without the test knobs.
func BuildRelease(ctx context.Context, dir string) (string, error) {
	return build(ctx, dir)
}

func build(ctx context.Context, dir string, flags ...string) (string, error) {
	bin := filepath.Join(dir, "vtsoar")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	args := append(append([]string{"build", "-o", bin}, flags...), "github.com/vtsoar/vtsoar/cmd/vtsoar")
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building vtsoar: %w\n%s", err, out)
	}
	return bin, nil
}

// ReplicaConfig configures one `vtsoar serve` process.
type ReplicaConfig struct {
	// Binary is the vtsoar binary.
	Binary string
	// DB is the database (VTSOAR_DB): a postgres:// URL.
	DB string
	// MasterKey is VTSOAR_MASTER_KEY (64 hex digits), the same for every replica.
	MasterKey string
	// DataDir is the directory of uploaded files.
	DataDir string
	// Env are more environment variables (NAME=value), such as the test knobs'
	// VTSOAR_QUOTA_WINDOW (see Build).
	Env []string
	// LogPath receives the process's stderr.
	LogPath string
	// LogLevel is serve's --log-level (default "warn").
	LogLevel string
}

// Replica is a running `vtsoar serve`.
type Replica struct {
	// URL is the base URL it serves on.
	URL string
	cmd *exec.Cmd
	// exited is closed once the process has exited; err is then its Wait error.
	exited chan struct{}
	err    error
}

// StartReplica starts `vtsoar serve` on a free loopback port and returns once it
// serves (or fails after 60s).
func StartReplica(ctx context.Context, cfg ReplicaConfig) (*Replica, error) {
	level := cfg.LogLevel
	if level == "" {
		level = "warn"
	}
	cmd := exec.Command(cfg.Binary, "serve", "--addr", "127.0.0.1:0", "--grace", "3s",
		"--log-level", level, "--data-dir", cfg.DataDir)
	cmd.Env = append(os.Environ(), "VTSOAR_DB="+cfg.DB, "VTSOAR_MASTER_KEY="+cfg.MasterKey, "NO_COLOR=1")
	cmd.Env = append(cmd.Env, cfg.Env...)
	logf, err := os.OpenFile(cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	r := &Replica{cmd: cmd, exited: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if rest, ok := strings.CutPrefix(line, "vtsoar serving on "); ok {
				if u, _, ok := strings.Cut(rest, " "); ok {
					select {
					case urls <- u:
					default:
					}
				}
			}
		}
		io.Copy(logf, stderr)
	}()
	go func() {
		r.err = cmd.Wait()
		close(r.exited)
	}()
	select {
	case r.URL = <-urls:
		return r, nil
	case <-r.exited:
		return nil, fmt.Errorf("vtsoar serve exited before serving: %v (log: %s)", r.err, cfg.LogPath)
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
	r.Kill()
	return nil, fmt.Errorf("vtsoar serve did not serve within 60s (log: %s)", cfg.LogPath)
}

// Pid is the process's id.
func (r *Replica) Pid() int { return r.cmd.Process.Pid }

// Kill kills the process with SIGKILL (no clean-up at all) and waits for it.
func (r *Replica) Kill() {
	r.cmd.Process.Kill()
	<-r.exited
}

// Stop asks the process to stop (SIGTERM) and waits for it, killing it after 15s.
func (r *Replica) Stop() error {
	select {
	case <-r.exited:
		return nil
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
		return r.err
	case <-time.After(15 * time.Second):
		r.Kill()
		return errors.New("vtsoar serve did not stop within 15s of SIGTERM; killed")
	}
}

// Exited reports whether the process has exited.
func (r *Replica) Exited() bool {
	select {
	case <-r.exited:
		return true
	default:
		return false
	}
}

// Emulator is a running `vtsoar emulate`: the VirusTotal emulator in a process of its
// own.
type Emulator struct {
	// URL is its base URL; the API is under /api/v3.
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartEmulator starts `vtsoar emulate` (bin) on a free loopback port with more
// arguments (such as --latency), its output appended to logPath, and returns once it
// listens.
func StartEmulator(ctx context.Context, bin, logPath string, args ...string) (*Emulator, error) {
	return StartEmulatorEnv(ctx, bin, logPath, nil, args...)
}

// StartEmulatorEnv is StartEmulator with more environment variables (NAME=value), such
// as the test knobs' VTSOAR_QUOTA_WINDOW, which makes the emulator's minute as short
// as the replicas' (see Build).
func StartEmulatorEnv(ctx context.Context, bin, logPath string, env []string, args ...string) (*Emulator, error) {
	cmd := exec.Command(bin, append([]string{"emulate", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting the emulator: %w", err)
	}
	e := &Emulator{cmd: cmd, done: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		defer logf.Close()
		rd := bufio.NewReader(stdout)
		// "vtsim listening on http://127.0.0.1:PORT (API at /api/v3)"
		if line, err := rd.ReadString('\n'); err == nil {
			fmt.Fprint(logf, line)
			if _, rest, ok := strings.Cut(line, "listening on "); ok {
				u, _, _ := strings.Cut(rest, " ")
				urls <- strings.TrimSpace(u)
			}
		}
		io.Copy(logf, rd)
	}()
	go func() {
		cmd.Wait()
		close(e.done)
	}()
	select {
	case e.URL = <-urls:
		return e, nil
	case <-e.done:
		return nil, fmt.Errorf("the emulator exited before listening (log: %s)", logPath)
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	e.Stop()
	return nil, fmt.Errorf("the emulator did not say where it listens within 30s (log: %s)", logPath)
}

// Pid is the emulator's process id.
func (e *Emulator) Pid() int { return e.cmd.Process.Pid }

// Stats reads the emulator's counters (GET /_emulator/stats).
func (e *Emulator) Stats(ctx context.Context) (vtsim.Stats, error) {
	var st vtsim.Stats
	req, err := http.NewRequestWithContext(ctx, "GET", e.URL+"/_emulator/stats", nil)
	if err != nil {
		return st, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /_emulator/stats: %s", res.Status)
	}
	return st, json.NewDecoder(res.Body).Decode(&st)
}

// Stop interrupts the emulator and waits for it, killing it after 10s.
func (e *Emulator) Stop() {
	e.cmd.Process.Signal(os.Interrupt)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		e.cmd.Process.Kill()
		<-e.done
	}
}

// ProcessCPU is the user + system time process pid has used so far (Linux /proc), or
// -1.
func ProcessCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The fields after the command name (which is in parentheses): utime is the 14th
	// field of the line, stime the 15th, in clock ticks (100 a second on Linux).
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// PeakRSS is the peak resident set size of process pid so far in bytes (Linux
// /proc's VmHWM), or -1.
func PeakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// LoadAvg is the machine's load average over 1, 5 and 15 minutes, as /proc/loadavg
// says ("unknown" elsewhere).
func LoadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// ScaledClock returns a clock that runs time.Minute/window times faster than the real
// one from now on, so that an emulator's calendar minute lasts window (the clock that
// `vtsoar emulate` built with the test knobs takes for VTSOAR_QUOTA_WINDOW).
func ScaledClock(window time.Duration) func() time.Time { return testknobs.ScaledClock(window) }

// Request is one request the emulator answered.
type Request struct {
	At       time.Time // when it arrived
	Endpoint string    // "GET /api/v3/files/<id>"
	Key      string    // x-apikey
	Status   int
}

// Recorder wraps a handler (the emulator) and records every request.
type Recorder struct {
	h http.Handler
	// Delay, when set, is called for every request and its answer is delayed by the
	// duration it returns (latency spikes).
	Delay func() time.Duration

	mu   sync.Mutex
	reqs []Request
}

// NewRecorder returns a Recorder of h.
func NewRecorder(h http.Handler) *Recorder { return &Recorder{h: h} }

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// ServeHTTP implements http.Handler.
func (rc *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	if rc.Delay != nil && strings.HasPrefix(r.URL.Path, "/api/") {
		if d := rc.Delay(); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			}
		}
	}
	sw := &statusWriter{ResponseWriter: w}
	rc.h.ServeHTTP(sw, r)
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		return
	}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, Request{At: at, Endpoint: r.Method + " " + r.URL.Path, Key: r.Header.Get("x-apikey"), Status: sw.status})
	rc.mu.Unlock()
}

// Requests returns the requests answered so far, in order of arrival.
func (rc *Recorder) Requests() []Request {
	rc.mu.Lock()
	out := append([]Request(nil), rc.reqs...)
	rc.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Reset forgets the requests recorded so far.
func (rc *Recorder) Reset() {
	rc.mu.Lock()
	rc.reqs = nil
	rc.mu.Unlock()
}

// ByEndpoint counts requests by endpoint.
func ByEndpoint(reqs []Request) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		out[r.Endpoint]++
	}
	return out
}

// ByStatus counts requests by status.
func ByStatus(reqs []Request) map[int]int {
	out := map[int]int{}
	for _, r := range reqs {
		out[r.Status]++
	}
	return out
}

// MaxInWindow returns the most requests of key (all keys when empty) that arrived
// within any span shorter than window, and when that span began.
func MaxInWindow(reqs []Request, key string, window time.Duration) (int, time.Time) {
	var ts []time.Time
	for _, r := range reqs {
		if key == "" || r.Key == key {
			ts = append(ts, r.At)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, at := 0, time.Time{}
	j := 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= window {
			j++
		}
		if n := i - j + 1; n > best {
			best, at = n, ts[j]
		}
	}
	return best, at
}

// API calls a replica's REST API with a bearer token.
type API struct {
	Client *http.Client
	Token  string
}

// Do sends a request with a JSON body (nil: none) and decodes a JSON answer into out
// (nil: discard); it returns the status.
func (a *API) Do(ctx context.Context, method, url string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode >= 300 {
		return res.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: %w", method, url, err)
		}
	}
	return res.StatusCode, nil
}

// Artifact is an artifact of an event posted to the REST API.
type Artifact struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Event is the REST API's view of an event.
type Event struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	RiskLevel string `json:"risk_level"`
	Artifacts []struct {
		Type      string `json:"type"`
		Value     string `json:"value"`
		Status    string `json:"status"`
		RiskLevel string `json:"risk_level"`
		Error     string `json:"error"`
	} `json:"artifacts"`
}
