//go:build unix

package main_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// An API key of any length stays out of what the binary prints, its error messages
// and its -v log: the network error of GET /users/{key} names the path with the key
// replaced, and the rest of the message (the a of "data", "connection refused") stays.
func TestShortAPIKeyRedacted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close() // nothing listens there any more: connection refused
	for _, key := range []string{"abc", "a", strings.Repeat("0123456789abcdef", 4)} {
		for _, cmd := range []string{"test-connection", "get-quotas"} {
			r := vtsoar(t, nil, "", "--server-url", down, "--api-key", key, "-v", "--retries", "0", "-o", "json", cmd)
			all := r.stdout + r.stderr
			if r.code != 1 || !strings.Contains(r.stdout, "connection refused") || !strings.Contains(r.stdout, "/api/v3/users/[REDACTED]") {
				t.Errorf("%s with key %q: exit %d\n%s", cmd, key, r.code, all)
			}
			for _, shown := range []string{"/users/" + key, `"` + key + `"`, "=" + key} {
				if strings.Contains(all, shown) {
					t.Errorf("%s with key %q prints %s:\n%s", cmd, key, shown, all)
				}
			}
		}
	}
}

// --risk-policy @FILE reads at most 64 KiB, as secret files are: a larger file, or
// /dev/zero, is a usage error (exit 2) that names the limit, and the run does not take
// the file into memory.
func TestRiskPolicyFileOverTheLimit(t *testing.T) {
	big := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(big, []byte(`{"default": {"high_malicious": 30}}`+strings.Repeat(" ", 64<<10)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{big, "/dev/zero"} {
		cmd := exec.Command(binary, "--api-key", "k", "--risk-policy", "@"+file, "check-domain-reputation", "vtsoar.net")
		home := t.TempDir()
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_DATA_HOME=" + filepath.Join(home, "data"), "VTSOAR_MASTER_KEY=",
			"VT_SERVER_URL=http://127.0.0.1:1"} // never VirusTotal, should the policy be taken
		out, err := cmd.CombinedOutput()
		code := cmd.ProcessState.ExitCode()
		if code != 2 || !strings.Contains(string(out), "--risk-policy: "+file+" is larger than 65536 bytes") {
			t.Errorf("@%s: exit %d (%v): %s", file, code, err, out)
		}
		// ru_maxrss is in KiB on Linux: the run stays far below the file's size.
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > 256<<10 {
			t.Errorf("@%s: the run took %d MiB", file, ru.Maxrss>>10)
		}
	}
}
