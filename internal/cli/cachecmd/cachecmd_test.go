package cachecmd_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/cli"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/vtsim"
)

type result struct {
	code        int
	out, errOut string
}

func vtsoar(dir string, args ...string) result {
	ios, _, out, errOut := iostreams.Test()
	code := cli.Main(context.Background(), append([]string{"--db", filepath.Join(dir, "vtsoar.db")}, args...), ios)
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

type stats struct {
	Server   string `json:"server_url"`
	Entries  int    `json:"entries"`
	NotFound int    `json:"not_found"`
	Hits     int    `json:"hits"`
	Misses   int    `json:"misses"`
}

func getStats(t *testing.T, dir string, args ...string) []stats {
	t.Helper()
	r := vtsoar(dir, append([]string{"cache", "stats", "-o", "json"}, args...)...)
	var s []stats
	if err := json.Unmarshal([]byte(r.out), &s); err != nil || r.code != 0 {
		t.Fatalf("cache stats: exit %d %v\n%s%s", r.code, err, r.out, r.errOut)
	}
	return s
}

func TestStatsAndClear(t *testing.T) {
	t.Setenv("VTSOAR_MASTER_KEY", "")
	t.Setenv("VTSOAR_QUOTA", "premium")
	t.Setenv("VT_API_KEY", "cache-test-key")
	t.Setenv("VT_SERVER_URL", "")
	dir := t.TempDir()
	simA, _ := vtsim.New(vtsim.Options{})
	a := httptest.NewServer(simA)
	defer a.Close()
	simB, _ := vtsim.New(vtsim.Options{})
	b := httptest.NewServer(simB)
	defer b.Close()

	if s := getStats(t, dir); len(s) != 0 {
		t.Fatalf("empty cache: %+v", s)
	}
	vtsoar(dir, "check-domain-reputation", "a.vtsoar.net", "b.vtsoar.net", "--server-url", a.URL)
	vtsoar(dir, "check-domain-reputation", "a.vtsoar.net", "b.vtsoar.net", "--server-url", a.URL) // hits
	vtsoar(dir, "check-ip-reputation", "8.8.8.8", "--server-url", b.URL)
	if n := simA.Stats().Requests; n != 2 {
		t.Fatalf("server A got %d requests, want 2 (second run cached)", n)
	}
	s := getStats(t, dir)
	if len(s) != 2 {
		t.Fatalf("stats = %+v, want one row per server", s)
	}
	byServer := map[string]stats{}
	for _, x := range s {
		byServer[x.Server] = x
	}
	if sa := byServer[a.URL]; sa.Entries != 2 || sa.Hits != 2 || sa.Misses != 2 {
		t.Fatalf("server A stats = %+v", sa)
	}
	if one := getStats(t, dir, "--server-url", b.URL); len(one) != 1 || one[0].Entries != 1 {
		t.Fatalf("stats of B = %+v", one)
	}

	r := vtsoar(dir, "cache", "clear", "--server-url", a.URL)
	if r.code != 0 || !strings.Contains(r.errOut, "Removed 2") {
		t.Fatalf("clear A: exit %d: %s", r.code, r.errOut)
	}
	if s := getStats(t, dir); len(s) != 1 || s[0].Server != b.URL {
		t.Fatalf("after clearing A: %+v", s)
	}
	// Cleared: the next run asks again.
	vtsoar(dir, "check-domain-reputation", "a.vtsoar.net", "--server-url", a.URL)
	if n := simA.Stats().Requests; n != 3 {
		t.Fatalf("after clear, server A got %d requests, want 3", n)
	}
	if r := vtsoar(dir, "cache", "clear", "--all"); r.code != 0 {
		t.Fatalf("clear --all: exit %d: %s", r.code, r.errOut)
	}
	if s := getStats(t, dir); len(s) != 0 {
		t.Fatalf("after clear --all: %+v", s)
	}
}
