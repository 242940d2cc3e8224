//go:build unix

package main_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoBannerCommandsRunAsPrinted: the CLI command the demo's banner suggests runs
// as printed from the shell that started the demo, with no vtsoar on PATH: the built
// binary by its path, and `go run ./cmd/vtsoar demo` as `go run ./cmd/vtsoar ...`.
func TestDemoBannerCommandsRunAsPrinted(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("built binary", func(t *testing.T) {
		line := demoCLILine(t, t.TempDir(), binary)
		if !strings.Contains(line, " "+binary+" lookup ") {
			t.Errorf("the banner runs %q, want the binary's path %s", line, binary)
		}
		runPrinted(t, t.TempDir(), line)
	})
	t.Run("go run", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds vtsoar twice with go run")
		}
		gobin, err := exec.LookPath("go")
		if err != nil {
			t.Fatalf("go is not on PATH: %v", err)
		}
		line := demoCLILine(t, root, gobin, "run", "./cmd/vtsoar")
		if !strings.Contains(line, " go run ./cmd/vtsoar lookup ") {
			t.Errorf("the banner runs %q, want go run ./cmd/vtsoar", line)
		}
		runPrinted(t, root, line)
	})
}

// demoEnv is the environment of a demo and of the commands it prints: the test's own
// (the go command's caches), with a data directory of the test's and no vtsoar
// settings, and a PATH without the binary's directory.
func demoEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "VT_") && !strings.HasPrefix(k, "VTSOAR_") && k != "XDG_DATA_HOME" {
			env = append(env, kv)
		}
	}
	return append(env, "XDG_DATA_HOME="+t.TempDir())
}

// demoCLILine starts `ARGS... demo` in dir, to run until the test ends, reads its
// banner and returns the banner's line of the CLI on the emulator.
func demoCLILine(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], append(args[1:], "demo", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "demo.db"))...)
	cmd.Dir, cmd.Env = dir, demoEnv(t)
	// Its own process group: `go run` leaves a signal to the program it runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Error("the demo did not stop on SIGINT")
		}
	})
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var banner []string
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the demo ended before its banner:\n%s\n%s", strings.Join(banner, "\n"), errOut.String())
			}
			banner = append(banner, l)
			if len(banner) > 1 && strings.Contains(banner[len(banner)-2], "The CLI on the same VirusTotal") {
				go func() {
					for range lines {
					}
				}()
				return strings.TrimSpace(l)
			}
		case <-timeout:
			t.Fatalf("no banner after 2 minutes:\n%s\n%s", strings.Join(banner, "\n"), errOut.String())
		}
	}
}

// runPrinted runs line with sh in dir, as a reader pastes it, and checks that it
// printed the lookup's table.
func runPrinted(t *testing.T, dir, line string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir, cmd.Env = dir, demoEnv(t)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if (code != 0 && code != 3) || !strings.Contains(string(out), "inputs succeeded") {
		t.Errorf("%s: exit %d:\n%s", line, code, out)
	}
}
