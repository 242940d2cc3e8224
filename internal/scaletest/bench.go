package scaletest

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Workdir is a benchmark's temporary directory and the vtsoar binary it measures.
type Workdir struct {
	// Dir is the directory (databases, logs, the binary when built here).
	Dir string
	// Bin is the vtsoar binary.
	Bin  string
	keep bool
}

// NewWorkdir makes the temporary directory of the benchmark called name and, when bin
// is empty, builds the binary into it: as released, or with the test knobs when knobs
// is true. With keep the directory stays, and its path is printed.
func NewWorkdir(ctx context.Context, name, bin string, knobs, keep bool) (*Workdir, error) {
	dir, err := os.MkdirTemp("", "vtsoar-bench-"+name+"-")
	if err != nil {
		return nil, err
	}
	w := &Workdir{Dir: dir, Bin: bin, keep: keep}
	if keep {
		fmt.Println("work directory:", dir)
	}
	if bin == "" {
		fmt.Println("building ./cmd/vtsoar ...")
		build := BuildRelease
		if knobs {
			build = Build
		}
		if w.Bin, err = build(ctx, dir); err != nil {
			w.Close()
			return nil, err
		}
	}
	return w, nil
}

// Close removes the directory unless it is kept.
func (w *Workdir) Close() {
	if !w.keep {
		os.RemoveAll(w.Dir)
	}
}

// CLI runs the vtsoar binary's commands on a benchmark's database.
type CLI struct {
	// Bin is the binary, DB its --db, MasterKey its VTSOAR_MASTER_KEY.
	Bin, DB, MasterKey string
	// DataHome, when set, is its XDG_DATA_HOME.
	DataHome string
}

// Run runs the command args with stdin and returns its stdout; an error carries its
// stderr.
func (c CLI) Run(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.Bin, append([]string{"--db", c.DB}, args...)...)
	cmd.Env = append(os.Environ(), "VTSOAR_MASTER_KEY="+c.MasterKey, "NO_COLOR=1")
	if c.DataHome != "" {
		cmd.Env = append(cmd.Env, "XDG_DATA_HOME="+c.DataHome)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("vtsoar %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// AddEmulatorConnection stores the connection "emu" on the emulator at emuURL, on the
// premium budget, with a throwaway key.
func (c CLI) AddEmulatorConnection(ctx context.Context, emuURL string) error {
	_, err := c.Run(ctx, "bench-real-key-0123456789abcdef", "connection", "add", "emu", "--api-key-stdin",
		"--server-url", emuURL, "--quota", "premium")
	return err
}

// Percentile is the p-th percentile (nearest rank) of sorted durations; 0 when there
// are none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted)) * p / 100))
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}
