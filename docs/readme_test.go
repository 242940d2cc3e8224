//go:build unix

package docs_test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cli"
	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
)

// block is a ```sh block of README.md.
type block struct {
	// line is the line of README.md where its text starts.
	line int
	text string
	// skip is why it is not run: the reason of the "<!-- readme-test: skip (REASON) -->"
	// comment on the line above its fence.
	skip string
}

var skipMarker = regexp.MustCompile(`^<!-- readme-test: skip \((.+)\) -->$`)

// readmeBlocks returns README.md's sh blocks in order.
func readmeBlocks(t *testing.T) []block {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var blocks []block
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "<!-- readme-test") {
			m := skipMarker.FindStringSubmatch(l)
			if m == nil || i+1 >= len(lines) || lines[i+1] != "```sh" {
				t.Fatalf("README.md:%d: %q: a marker is <!-- readme-test: skip (REASON) --> on the line above a ```sh fence", i+1, l)
			}
			continue
		}
		if l != "```sh" {
			continue
		}
		bl := block{line: i + 2}
		if i > 0 {
			if m := skipMarker.FindStringSubmatch(lines[i-1]); m != nil {
				bl.skip = m[1]
			}
		}
		var text []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			text = append(text, lines[i])
		}
		bl.text = strings.Join(text, "\n")
		blocks = append(blocks, bl)
	}
	return blocks
}

// TestReadmeBlocksRun runs README.md's sh blocks as a reader of a fresh clone would:
// in order, in one shell session (what a block exports, the next sees), from the root
// of a copy of the module, with a home and a data directory of their own and no
// VirusTotal or vtsoar settings. A line that starts a server (`./vtsoar emulate`,
// `./vtsoar serve`, `go run ./cmd/vtsoar demo`: a command with --addr) runs in the
// background on a free port, in place of the address it documents, which the later
// blocks are given instead; it must be up, and still up at the end. Every other
// command must exit 0, or the N its line's "# exit code N" comment says. A block
// marked "readme-test: skip (REASON)" is not run, and is reported.
func TestReadmeBlocksRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs vtsoar as README.md does (about half a minute)")
	}
	blocks := readmeBlocks(t)
	s := newSession(t)
	ran := 0
	for _, b := range blocks {
		if b.skip != "" {
			t.Logf("README.md:%d: not run: %s", b.line-1, b.skip)
			continue
		}
		s.run(t, b)
		ran++
	}
	s.stopServers(t)
	t.Logf("%d of README.md's %d sh blocks ran, %d marked not to", ran, len(blocks), len(blocks)-ran)
	if ran < 5 {
		t.Errorf("only %d of README.md's sh blocks ran", ran)
	}
}

// session is the shell session of the blocks: its directory, environment, the
// servers it started and the addresses they took.
type session struct {
	dir, state, fails string
	env               []string
	// addrs maps an address the README documents to the one its server took.
	addrs   map[string]string
	servers []*server
	// addrDefault is the default --addr of each vtsoar command that serves.
	addrDefault map[string]string
}

func newSession(t *testing.T) *session {
	root := t.TempDir()
	s := &session{dir: filepath.Join(root, "clone"), state: filepath.Join(root, "state.sh"),
		fails: filepath.Join(root, "fails"), addrs: map[string]string{}, addrDefault: servingCommands()}
	// A server still running when the test ends (a block failed) is killed.
	t.Cleanup(func() {
		for _, sv := range s.servers {
			select {
			case <-sv.done:
			default:
				syscall.Kill(-sv.cmd.Process.Pid, syscall.SIGKILL)
				<-sv.done
			}
		}
	})
	copyModule(t, "..", s.dir)
	home := filepath.Join(root, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	// The go command keeps its caches (HOME moves), and never reaches the network.
	goenv := map[string]string{}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		goenv[k] = strings.TrimSpace(string(out))
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", strings.HasPrefix(k, "XDG_"), strings.HasPrefix(k, "VT_"), strings.HasPrefix(k, "VTSOAR_"),
			goenv[k] != "", k == "GOPROXY", k == "GOTOOLCHAIN", k == "CDPATH", k == "ENV", k == "BASH_ENV":
			continue
		}
		s.env = append(s.env, kv)
	}
	s.env = append(s.env, "HOME="+home, "XDG_DATA_HOME="+filepath.Join(root, "data"), "GOPROXY=off", "GOTOOLCHAIN=local")
	for k, v := range goenv {
		s.env = append(s.env, k+"="+v)
	}
	return s
}

// servingCommands returns the default --addr of each vtsoar command that has one.
func servingCommands() map[string]string {
	ios, _, _, _ := iostreams.Test()
	out := map[string]string{}
	for _, c := range cli.NewCmdRoot(cmdutil.New(ios, "test")).Commands() {
		if f := c.Flags().Lookup("addr"); f != nil {
			out[c.Name()] = f.DefValue
		}
	}
	return out
}

// copyModule copies the module at src to dst as a clone holds it: the files git
// tracks or would (else every file but .git's).
func copyModule(t *testing.T, src, dst string) {
	t.Helper()
	var files []string
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = src
	if out, err := cmd.Output(); err == nil {
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if _, err := os.Lstat(filepath.Join(src, f)); err == nil { // not deleted in the work tree
				files = append(files, f)
			}
		}
	} else {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				rel, _ := filepath.Rel(src, p)
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		in := filepath.Join(src, f)
		info, err := os.Stat(in)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// servingLine matches a line that runs a vtsoar command: its command's name.
var servingLine = regexp.MustCompile(`^(?:\./vtsoar|go run \./cmd/vtsoar) ([a-z-]+)`)

// run runs a block: its lines in order, each run of shell lines in the session's
// shell, each server line in the background.
func (s *session) run(t *testing.T, b block) {
	t.Helper()
	lines := strings.Split(b.text, "\n")
	start := 0
	for i, l := range lines {
		m := servingLine.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		if _, serves := s.addrDefault[m[1]]; !serves {
			continue
		}
		s.shell(t, b.line+start, lines[start:i])
		s.serve(t, b.line+i, l, m[1])
		start = i + 1
	}
	s.shell(t, b.line+start, lines[start:])
}

// withAddrs returns text with each address a server of the session documents replaced
// by the one it took.
func (s *session) withAddrs(text string) string {
	for doc, real := range s.addrs {
		text = strings.ReplaceAll(text, doc, real)
	}
	return text
}

// exitComment is a line's "# exit code N".
var exitComment = regexp.MustCompile(`#\s*exit code (\d+)`)

// shell runs lines (README.md's from line first) in the session's shell: bash, with
// pipefail, the environment the blocks before exported, and an ERR trap that records
// each command that fails.
func (s *session) shell(t *testing.T, first int, lines []string) {
	t.Helper()
	if strings.TrimSpace(strings.Join(lines, "")) == "" {
		return
	}
	prologue := []string{
		`set -o pipefail`,
		`if [ -f "$READMETEST_STATE" ]; then . "$READMETEST_STATE"; fi`,
		`trap 'printf "%d %d\n" "$LINENO" "$?" >>"$READMETEST_FAILS"' ERR`,
	}
	script := strings.Join(prologue, "\n") + "\n" + s.withAddrs(strings.Join(lines, "\n")) +
		"\nexport -p | grep -v -e ' READMETEST_' -e '^declare -[a-z]*r' >\"$READMETEST_STATE\"\n"
	os.Remove(s.fails)
	cmd := exec.Command("bash", "--noprofile", "--norc", "-c", script)
	cmd.Dir = s.dir
	cmd.Env = append(append([]string{}, s.env...), "READMETEST_STATE="+s.state, "READMETEST_FAILS="+s.fails)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README.md:%d: the block's shell failed: %v\n%s", first, err, out)
	}
	failed := map[int]int{} // line of the block -> exit code
	if b, err := os.ReadFile(s.fails); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var line, code int
			if _, err := fmt.Sscan(l, &line, &code); err == nil {
				failed[line-len(prologue)-1] = code
			}
		}
	}
	for i, l := range lines {
		want := 0
		if m := exitComment.FindStringSubmatch(l); m != nil {
			want, _ = strconv.Atoi(m[1])
		}
		if got := failed[i]; got != want {
			t.Errorf("README.md:%d: exit code %d, want %d: %s\nthe block's output:\n%s", first+i, got, want, strings.TrimSpace(l), out)
		}
		delete(failed, i)
	}
	for i, code := range failed {
		t.Errorf("README.md: a command of the block at line %d (its line %d) exited %d\n%s", first, i+1, code, out)
	}
}

// server is a server a block started.
type server struct {
	line int
	cmd  *exec.Cmd
	out  *iostreams.SyncBuffer
	done chan struct{}
	err  error
}

var (
	// addrFlag is a server line's --addr.
	addrFlag = regexp.MustCompile(`--addr[ =](\S+)`)
	// listening finds the address a server prints once it listens.
	listening = regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)
)

// serve starts a server line in the background, on a free port in place of the
// address it documents (its --addr, else its command's default), and waits until it
// listens.
func (s *session) serve(t *testing.T, at int, line, command string) {
	t.Helper()
	line = strings.TrimSpace(line)
	doc := s.addrDefault[command]
	if m := addrFlag.FindStringSubmatch(line); m != nil {
		doc = m[1]
		line = strings.Replace(line, m[0], "--addr 127.0.0.1:0", 1)
	} else {
		code, comment, _ := strings.Cut(line, "#")
		line = strings.TrimSpace(code) + " --addr 127.0.0.1:0"
		if comment != "" {
			line += " #" + comment
		}
	}
	script := `if [ -f "$READMETEST_STATE" ]; then . "$READMETEST_STATE"; fi` + "\nexec " + s.withAddrs(line) + "\n"
	sv := &server{line: at, out: &iostreams.SyncBuffer{}, done: make(chan struct{})}
	sv.cmd = exec.Command("bash", "--noprofile", "--norc", "-c", script)
	sv.cmd.Dir = s.dir
	sv.cmd.Env = append(append([]string{}, s.env...), "READMETEST_STATE="+s.state)
	sv.cmd.Stdout, sv.cmd.Stderr = sv.out, sv.out
	// A group of its own, so that `go run` and the program it runs stop together.
	sv.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sv.cmd.Start(); err != nil {
		t.Fatalf("README.md:%d: %s: %v", at, line, err)
	}
	go func() { sv.err = sv.cmd.Wait(); close(sv.done) }()
	s.servers = append(s.servers, sv)
	deadline := time.After(3 * time.Minute) // `go run` compiles first
	for {
		if m := listening.FindStringSubmatch(sv.out.String()); m != nil {
			s.addrs[doc] = m[1]
			return
		}
		select {
		case <-sv.done:
			t.Fatalf("README.md:%d: %s ended before it listened (%v):\n%s", at, line, sv.err, sv.out)
		case <-deadline:
			t.Fatalf("README.md:%d: %s does not listen after 3 minutes:\n%s", at, line, sv.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stopServers checks that every server still runs, then stops it as Ctrl-C would.
func (s *session) stopServers(t *testing.T) {
	t.Helper()
	for _, sv := range s.servers {
		select {
		case <-sv.done:
			t.Errorf("README.md:%d: the server ended before the blocks did (%v):\n%s", sv.line, sv.err, sv.out)
			continue
		default:
		}
		syscall.Kill(-sv.cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-sv.done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-sv.cmd.Process.Pid, syscall.SIGKILL)
			<-sv.done
			t.Errorf("README.md:%d: the server did not stop on SIGINT:\n%s", sv.line, sv.out)
		}
	}
}
