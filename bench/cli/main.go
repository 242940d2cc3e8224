// Command cli benchmarks the vtsoar binary as a user runs it: it builds the binary,
// starts `vtsoar emulate --latency L` as a separate process, and runs
// `vtsoar check-file-reputation -` with N distinct sha256 on stdin, a fresh SQLite
// database and VTSOAR_QUOTA=premium, at each --concurrency and output format asked
// for, then once more with all N answers in the cache. For each run it prints the
// wall time, the CPU time (user + system, from the child's rusage), the peak RSS
// (rusage maxrss) and the ratios against its goals:
//
//   - wall <= 1.3 x the bound N x latency / concurrency;
//   - CPU <= 0.5 ms per request;
//   - peak RSS <= 64 MB with -o jsonl;
//   - all N cached: wall <= 0.15 s;
//   - when a `vt` binary (VirusTotal's vt-cli) is on PATH, it runs the same inputs
//     against the same emulator (`vt file - -t C --format json`), alternating with
//     vtsoar, and vtsoar's wall must be <= 0.6 x vt-cli's and its peak RSS with -o json
//     <= 0.5 x vt-cli's. Without vt-cli these two comparisons are skipped, and the
//     program says so.
//
// With -runs R, each case runs R times (alternating with -base and vt-cli): the goals
// are checked on the least wall and CPU and the highest RSS, and the median wall ratio
// is printed beside, since the wall of one run varies with what else the two cores do.
//
// The emulator's own CPU per request is printed beside (read from /proc on Linux): it
// shares the machine's cores with the CLI.
//
// The exit status is 1 when a goal is missed (or a run fails), 0 otherwise.
//
// With -profile DIR, every case is also run once inside this process (the same
// command tree as the binary, cli.Main) under pprof, and DIR receives a CPU profile,
// a heap profile (allocations) and an execution trace per case, to read with
// `go tool pprof` and `go tool trace`.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vtsoar/vtsoar/internal/cli"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/scaletest"
)

// The goals.
const (
	goalWallRatio      = 1.3                    // wall / (N x latency / concurrency)
	goalCPUPerRequest  = 500 * time.Microsecond // user + sys per request
	goalRSSJSONL       = 64 << 20               // peak RSS with -o jsonl
	goalCachedWall     = 150 * time.Millisecond // all N answers in the cache
	goalVTCLIWallRatio = 0.6                    // vtsoar wall / vt-cli wall
	goalVTCLIRSSRatio  = 0.5                    // vtsoar peak RSS (-o json) / vt-cli's
)

// masterKey is the benchmark's throwaway master key (no connection is stored).
const masterKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func main() {
	if os.Getenv(spawnEnv) == "1" {
		spawn()
		return
	}
	n := flag.Int("n", 1000, "distinct sha256 per run")
	latency := flag.Duration("latency", 20*time.Millisecond, "emulator latency per request")
	concs := flag.String("concurrency", "20,50", "comma-separated --concurrency values")
	formats := flag.String("formats", "json,jsonl", "comma-separated output formats")
	runs := flag.Int("runs", 2, "runs of each case (alternating with vt-cli and -base when present): the least wall and CPU and the highest RSS are reported")
	bin := flag.String("bin", "", "the vtsoar binary to measure (default: build ./cmd/vtsoar)")
	base := flag.String("base", "", "another vtsoar binary (say, main's) run alternately with the measured one and printed beside it, without goals")
	vtcli := flag.String("vt", "", "VirusTotal's vt-cli binary (default: vt on PATH, if any)")
	profile := flag.String("profile", "", "also run each case in-process under pprof and write the profiles to this directory")
	keep := flag.Bool("keep", false, "keep the work directory (databases, outputs, emulator log)")
	flag.Parse()

	cs, err := parseInts(*concs)
	if err != nil || len(cs) == 0 {
		fail("-concurrency: want a comma-separated list of positive numbers")
	}
	b := &bench{n: *n, latency: *latency, runs: max(*runs, 1), profileDir: *profile, base: *base}
	ok, err := b.run(cs, strings.Split(*formats, ","), *bin, *vtcli, *keep)
	if err != nil {
		fail(err.Error())
	}
	if !ok {
		fmt.Println("\nFAIL: a goal was missed")
		os.Exit(1)
	}
	fmt.Println("\nok: every goal met")
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "bench/cli:", msg)
	os.Exit(1)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

type bench struct {
	n          int
	latency    time.Duration
	runs       int
	profileDir string

	dir    string
	bin    string
	base   string
	vt     string
	emu    *scaletest.Emulator
	emuURL string
	missed bool
}

// measurement is what one child process cost.
type measurement struct {
	wall, cpu time.Duration
	// walls are the wall times of every run merged into this one (better).
	walls  []time.Duration
	rss    int64 // bytes
	emuCPU time.Duration
	exit   int
}

func (b *bench) run(concs []int, formats []string, bin, vtcli string, keep bool) (bool, error) {
	ctx := context.Background()
	w, err := scaletest.NewWorkdir(ctx, "cli", bin, true, keep)
	if err != nil {
		return false, err
	}
	defer w.Close()
	dir, bin := w.Dir, w.Bin
	b.dir = dir
	b.bin = bin
	if err := b.startEmulator(ctx); err != nil {
		return false, err
	}
	defer b.stopEmulator()

	b.vt = vtcli
	if b.vt == "" {
		b.vt, _ = exec.LookPath("vt")
	}
	fmt.Printf("%d distinct sha256 per run, emulator latency %s in its own process, %d CPUs, load %s\n",
		b.n, b.latency, runtime.NumCPU(), scaletest.LoadAvg())
	if b.vt == "" {
		fmt.Println("vt-cli: no `vt` binary on PATH (or -vt): the comparisons with vt-cli are SKIPPED, not passed")
	} else {
		fmt.Println("vt-cli:", b.vt)
	}
	fmt.Println()
	fmt.Printf("%-30s %8s %8s %7s %7s %9s %9s %8s %9s  %s\n", "case", "wall", "bound", "ratio", "median", "CPU", "CPU/req", "peakRSS", "emu/req", "goals")

	for _, c := range concs {
		bound := time.Duration(b.n) * b.latency / time.Duration(c)
		var vtBest *measurement
		for _, f := range formats {
			var best, baseBest *measurement
			for r := 0; r < b.runs; r++ {
				m, err := b.vtsoar(ctx, b.bin, c, f, b.inputs(), "")
				if err != nil {
					return false, err
				}
				best = better(best, m)
				if b.base != "" {
					m, err := b.vtsoar(ctx, b.base, c, f, b.inputs(), "")
					if err != nil {
						return false, err
					}
					baseBest = better(baseBest, m)
				}
				if b.vt != "" && f == formats[0] {
					vm, err := b.vtCLI(ctx, c, b.inputs())
					if err != nil {
						return false, err
					}
					vtBest = better(vtBest, vm)
				}
			}
			var goals []string
			ratio := float64(best.wall) / float64(bound)
			goals = append(goals, b.check(ratio <= goalWallRatio, "wall %.2f x bound (<= %.1f)", ratio, goalWallRatio))
			perReq := best.cpu / time.Duration(b.n)
			goals = append(goals, b.check(perReq <= goalCPUPerRequest, "CPU %s/req (<= %s)", round(perReq), goalCPUPerRequest))
			if f == "jsonl" {
				goals = append(goals, b.check(best.rss <= goalRSSJSONL, "RSS %s (<= %s)", mb(best.rss), mb(goalRSSJSONL)))
			}
			if vtBest != nil {
				wr := float64(best.wall) / float64(vtBest.wall)
				goals = append(goals, b.check(wr <= goalVTCLIWallRatio, "wall %.2f x vt-cli (<= %.1f)", wr, goalVTCLIWallRatio))
				if f == "json" {
					rr := float64(best.rss) / float64(vtBest.rss)
					goals = append(goals, b.check(rr <= goalVTCLIRSSRatio, "RSS %.2f x vt-cli (<= %.1f)", rr, goalVTCLIRSSRatio))
				}
			}
			b.row(fmt.Sprintf("vtsoar c=%d -o %s", c, f), best, bound, goals)
			if baseBest != nil {
				b.row(fmt.Sprintf("  base c=%d -o %s", c, f), baseBest, bound, nil)
			}
			if b.profileDir != "" {
				if err := b.profileCase(ctx, fmt.Sprintf("c%d-%s", c, f), c, f, b.inputs(), ""); err != nil {
					return false, err
				}
			}
		}
		if vtBest != nil {
			b.row(fmt.Sprintf("vt-cli -t %d --format json", c), vtBest, bound, nil)
		}
	}

	// All N answers in the cache: fill a database once, then measure a second run.
	in := b.inputs()
	cached := func(bin, name string) (*measurement, error) {
		db := filepath.Join(b.dir, name)
		if _, err := b.vtsoar(ctx, bin, concs[0], formats[0], in, db); err != nil {
			return nil, err
		}
		var best *measurement
		for r := 0; r < b.runs; r++ {
			m, err := b.vtsoar(ctx, bin, concs[0], formats[0], in, db)
			if err != nil {
				return nil, err
			}
			best = better(best, m)
		}
		return best, nil
	}
	best, err := cached(b.bin, "cached.db")
	if err != nil {
		return false, err
	}
	goals := []string{b.check(best.wall <= goalCachedWall, "wall %s (<= %s)", round(best.wall), goalCachedWall)}
	b.row(fmt.Sprintf("vtsoar all cached -o %s", formats[0]), best, 0, goals)
	if b.base != "" {
		m, err := cached(b.base, "cached-base.db")
		if err != nil {
			return false, err
		}
		b.row(fmt.Sprintf("  base all cached -o %s", formats[0]), m, 0, nil)
	}
	if b.profileDir != "" {
		if err := b.profileCase(ctx, "cached-"+formats[0], concs[0], formats[0], in, filepath.Join(b.dir, "cached.db")); err != nil {
			return false, err
		}
		fmt.Println("\nprofiles in", b.profileDir)
	}
	fmt.Printf("\nload after the runs: %s\n", scaletest.LoadAvg())
	return !b.missed, nil
}

// better merges the measurements of two runs of one case: the shorter wall time and
// the lesser CPU time (on shared cores both only grow with the other work), and the
// higher peak RSS.
func better(best, m *measurement) *measurement {
	if best == nil {
		cp := *m
		cp.walls = []time.Duration{m.wall}
		return &cp
	}
	best.walls = append(best.walls, m.wall)
	if m.wall < best.wall {
		best.wall = m.wall
	}
	if m.cpu < best.cpu {
		best.cpu, best.emuCPU = m.cpu, m.emuCPU
	}
	best.rss = max(best.rss, m.rss)
	return best
}

func (b *bench) check(ok bool, format string, args ...any) string {
	s := fmt.Sprintf(format, args...)
	if ok {
		return "ok " + s
	}
	b.missed = true
	return "MISS " + s
}

func (b *bench) row(name string, m *measurement, bound time.Duration, goals []string) {
	bs, rs, med := "-", "-", "-"
	if bound > 0 {
		bs = round(bound).String()
		rs = fmt.Sprintf("%.2f", float64(m.wall)/float64(bound))
		if len(m.walls) > 1 {
			w := slices.Clone(m.walls)
			slices.Sort(w)
			med = fmt.Sprintf("%.2f", float64(w[len(w)/2])/float64(bound))
		}
	}
	emu := "-"
	if m.emuCPU >= 0 {
		emu = round(m.emuCPU / time.Duration(b.n)).String()
	}
	fmt.Printf("%-30s %8s %8s %7s %7s %9s %9s %8s %9s  %s\n", name, round(m.wall), bs, rs, med, round(m.cpu),
		round(m.cpu/time.Duration(b.n)), mb(m.rss), emu, strings.Join(goals, "; "))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func mb(n int64) string { return fmt.Sprintf("%.0fMB", float64(n)/(1<<20)) }

// inputs returns N sha256 never asked before (random), one per line.
func (b *bench) inputs() []byte {
	var buf bytes.Buffer
	var h [32]byte
	for range b.n {
		rand.Read(h[:])
		buf.WriteString(hex.EncodeToString(h[:]))
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func (b *bench) env() []string {
	return append(os.Environ(), "VT_SERVER_URL="+b.emuURL, "VT_API_KEY=bench", "VTSOAR_QUOTA=premium",
		"VTSOAR_MASTER_KEY="+masterKey)
}

// vtsoar runs the binary once; db "" is a fresh database.
func (b *bench) vtsoar(ctx context.Context, bin string, conc int, format string, in []byte, db string) (*measurement, error) {
	if db == "" {
		d, err := os.MkdirTemp(b.dir, "db-")
		if err != nil {
			return nil, err
		}
		db = filepath.Join(d, "vtsoar.db")
	}
	args := []string{"check-file-reputation", "-", "--db", db, "--concurrency", strconv.Itoa(conc), "-o", format}
	out, m, err := b.child(ctx, bin, args, b.env(), in)
	if err != nil {
		return nil, err
	}
	if m.exit != 0 && m.exit != 3 { // 3: Partially Successful (the emulator's unknown files)
		return nil, fmt.Errorf("vtsoar %s exited %d", strings.Join(args, " "), m.exit)
	}
	if err := checkOutput(format, out, b.n); err != nil {
		return nil, fmt.Errorf("vtsoar -o %s: %w", format, err)
	}
	return m, nil
}

// checkOutput makes sure a run answered every input.
func checkOutput(format string, out []byte, n int) error {
	switch format {
	case "json":
		var env struct {
			ContextData []json.RawMessage `json:"context_data"`
			RawData     []json.RawMessage `json:"raw_data"`
			Errors      []json.RawMessage `json:"errors"`
		}
		if err := json.Unmarshal(out, &env); err != nil {
			return fmt.Errorf("output is not an envelope: %w", err)
		}
		if len(env.ContextData) != n || len(env.RawData)+len(env.Errors) != n {
			return fmt.Errorf("%d context entries, %d raw, %d errors for %d inputs", len(env.ContextData), len(env.RawData), len(env.Errors), n)
		}
	case "jsonl":
		lines := 0
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			if !json.Valid(sc.Bytes()) {
				return fmt.Errorf("line %d is not JSON", lines+1)
			}
			lines++
		}
		if lines != n {
			return fmt.Errorf("%d lines for %d inputs", lines, n)
		}
	}
	return nil
}

func (b *bench) vtCLI(ctx context.Context, conc int, in []byte) (*measurement, error) {
	args := []string{"--host", b.emuURL, "--apikey", "bench", "file", "-", "-t", strconv.Itoa(conc), "--format", "json", "--silent"}
	_, m, err := b.child(ctx, b.vt, args, os.Environ(), in)
	if err != nil {
		return nil, err
	}
	if m.exit != 0 {
		return nil, fmt.Errorf("vt-cli exited %d", m.exit)
	}
	return m, nil
}

// child runs one process and measures it (and the emulator meanwhile). The process
// is started by a small helper process (this program re-executed, see spawn) and not
// by this one: Linux starts a child of a Go program with vfork semantics, so the
// child's rusage maxrss would include the high-water RSS of its parent, this
// benchmark, which holds outputs and profiles. The helper's own peak RSS (a few MB)
// is the floor of the figure.
func (b *bench) child(ctx context.Context, bin string, args, env []string, in []byte) ([]byte, *measurement, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	outPath := filepath.Join(b.dir, "child.out")
	errPath := filepath.Join(b.dir, "child.err")
	cmd := exec.CommandContext(ctx, self, append([]string{bin}, args...)...)
	cmd.Env = append(env, spawnEnv+"=1", spawnOut+"="+outPath, spawnErr+"="+errPath)
	cmd.Stdin = bytes.NewReader(in)
	var report, helperErr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &report, &helperErr
	emu0 := b.emuCPU()
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("running %s: %w\n%s", bin, err, helperErr.String())
	}
	emu1 := b.emuCPU()
	var r spawnReport
	if err := json.Unmarshal(report.Bytes(), &r); err != nil {
		return nil, nil, fmt.Errorf("the helper's report: %w", err)
	}
	if r.Error != "" {
		return nil, nil, fmt.Errorf("%s: %s", bin, r.Error)
	}
	m := &measurement{wall: r.Wall, cpu: r.CPU, rss: r.MaxRSS, exit: r.Exit, emuCPU: -1}
	if emu0 >= 0 && emu1 >= 0 {
		m.emuCPU = emu1 - emu0
	}
	if m.exit != 0 && m.exit != 3 {
		errOut, _ := os.ReadFile(errPath)
		fmt.Fprintf(os.Stderr, "%s stderr:\n%s\n", filepath.Base(bin), tail(string(errOut), 2000))
	}
	out, err := os.ReadFile(outPath)
	if err != nil {
		return nil, nil, err
	}
	return out, m, nil
}

// The helper process's environment and report.
const (
	spawnEnv = "VTSOAR_BENCH_CLI_SPAWN"
	spawnOut = "VTSOAR_BENCH_CLI_STDOUT"
	spawnErr = "VTSOAR_BENCH_CLI_STDERR"
)

type spawnReport struct {
	Wall   time.Duration `json:"wall"`
	CPU    time.Duration `json:"cpu"`
	MaxRSS int64         `json:"maxrss"`
	Exit   int           `json:"exit"`
	Error  string        `json:"error,omitempty"`
}

// spawn is the helper: it runs os.Args[1:] with this process's stdin, the child's
// stdout and stderr in files, and prints the child's wall time and rusage as JSON.
func spawn() {
	var r spawnReport
	err := func() error {
		out, err := os.Create(os.Getenv(spawnOut))
		if err != nil {
			return err
		}
		defer out.Close()
		errOut, err := os.Create(os.Getenv(spawnErr))
		if err != nil {
			return err
		}
		defer errOut.Close()
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "VTSOAR_BENCH_CLI_") {
				env = append(env, kv)
			}
		}
		cmd := exec.Command(os.Args[1], os.Args[2:]...)
		cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, os.Stdin, out, errOut
		start := time.Now()
		err = cmd.Run()
		r.Wall = time.Since(start)
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return err
		}
		r.Exit = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			r.MaxRSS = int64(ru.Maxrss) * 1024 // kilobytes on Linux
		}
		return nil
	}()
	if err != nil {
		r.Error = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (b *bench) startEmulator(ctx context.Context) error {
	emu, err := scaletest.StartEmulator(ctx, b.bin, filepath.Join(b.dir, "emulator.log"), "--latency", b.latency.String())
	if err != nil {
		return err
	}
	b.emu, b.emuURL = emu, emu.URL
	return nil
}

func (b *bench) stopEmulator() {
	if b.emu != nil {
		b.emu.Stop()
	}
}

// emuCPU is the emulator's user + system time so far (Linux /proc), or -1.
func (b *bench) emuCPU() time.Duration {
	if b.emu == nil {
		return -1
	}
	return scaletest.ProcessCPU(b.emu.Pid())
}

// profileCase runs one case inside this process (cli.Main, the binary's command
// tree) under the CPU profiler, and writes its CPU and allocation profiles.
func (b *bench) profileCase(ctx context.Context, name string, conc int, format string, in []byte, db string) error {
	if err := os.MkdirAll(b.profileDir, 0o755); err != nil {
		return err
	}
	if db == "" {
		d, err := os.MkdirTemp(b.dir, "db-")
		if err != nil {
			return err
		}
		db = filepath.Join(d, "vtsoar.db")
	}
	for _, kv := range [][2]string{{"VT_SERVER_URL", b.emuURL}, {"VT_API_KEY", "bench"}, {"VTSOAR_QUOTA", "premium"},
		{"VTSOAR_MASTER_KEY", masterKey}} {
		os.Setenv(kv[0], kv[1])
	}
	out, err := os.Create(filepath.Join(b.dir, "profile-"+name+".out"))
	if err != nil {
		return err
	}
	defer out.Close()
	var errOut bytes.Buffer
	ios := &iostreams.IOStreams{In: bytes.NewReader(in), Out: out, ErrOut: &errOut}
	cpuf, err := os.Create(filepath.Join(b.profileDir, "cpu-"+name+".pprof"))
	if err != nil {
		return err
	}
	defer cpuf.Close()
	tracef, err := os.Create(filepath.Join(b.profileDir, "trace-"+name+".out"))
	if err != nil {
		return err
	}
	defer tracef.Close()
	runtime.GC()
	if err := pprof.StartCPUProfile(cpuf); err != nil {
		return err
	}
	if err := trace.Start(tracef); err != nil {
		return err
	}
	code := cli.Main(ctx, []string{"check-file-reputation", "-", "--db", db, "--concurrency", strconv.Itoa(conc), "-o", format}, ios)
	trace.Stop()
	pprof.StopCPUProfile()
	if code != 0 && code != 3 {
		return fmt.Errorf("in-process run %s exited %d: %s", name, code, tail(errOut.String(), 2000))
	}
	heapf, err := os.Create(filepath.Join(b.profileDir, "heap-"+name+".pprof"))
	if err != nil {
		return err
	}
	defer heapf.Close()
	return pprof.Lookup("allocs").WriteTo(heapf, 0)
}
