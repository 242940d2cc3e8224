package scaletest_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vtsim"
)

// Two vtsoar serve replicas on one PostgreSQL database, their VirusTotal gateway used
// as behind a load balancer (requests alternate between them): one cache (what one
// replica fetched, the other serves), one ledger (a 3-a-minute budget spent through
// both, the units recorded for the key), and a key removed through one replica
// refused by the other within serve's --gateway-recheck (its default). The real key
// is in no answer and no log.
func TestGatewayOnReplicas(t *testing.T) {
	c := newCluster(t, "", vtsim.Options{})
	c.start(2)
	const realKey = "replicas-real-key-0123456789abcdef0123456789"
	c.addConnection(map[string]any{"name": "emu", "api_key": realKey, "quota": "3/min"})
	var gk struct{ Key string }
	if _, err := c.api.Do(c.ctx, "POST", c.replicas[0].URL+"/api/v1/gateway-keys",
		map[string]any{"name": "lb", "connection": "emu", "max_wait": "1s"}, &gk); err != nil {
		t.Fatal(err)
	}
	get := func(replica int, path string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(c.ctx, "GET", c.replicas[replica%2].URL+"/api/v3/"+path, nil)
		req.Header.Set("x-apikey", gk.Key)
		res, err := c.api.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if strings.Contains(string(b), realKey) {
			t.Fatalf("%s: the answer holds the real key", path)
		}
		return res.StatusCode, res.Header, string(b)
	}

	objects := []string{"domains/one-cache.com", "ip_addresses/198.51.100.7", "files/" + fileArtifacts("lb", 1)[0].Value}
	for i, o := range objects {
		if st, h, body := get(i, o); (st != 200 && st != 404) || h.Get("X-Vtsoar-Cache") != "miss" {
			t.Fatalf("%s through replica %d: %d %s %.200s", o, i%2, st, h.Get("X-Vtsoar-Cache"), body)
		}
		if st, h, _ := get(i+1, o); (st != 200 && st != 404) || h.Get("X-Vtsoar-Cache") != "hit" {
			t.Fatalf("%s through the other replica: %d %s, want a cache hit", o, st, h.Get("X-Vtsoar-Cache"))
		}
	}
	if n := len(c.rec.Requests()); n != 3 {
		t.Fatalf("the emulator was asked %d times for 3 objects through 2 replicas", n)
	}
	// The budget's 3 units are spent, whichever replica spent them.
	for i := range 2 {
		st, h, body := get(i, "domains/over-budget.com")
		if st != 429 || !strings.Contains(body, "QuotaExceededError") || h.Get("Retry-After") == "" {
			t.Fatalf("past the budget through replica %d: %d %s", i, st, body)
		}
	}
	use, err := c.st.RequesterUsage(c.ctx, quota.BudgetID(c.emu.URL, realKey), []store.Window{{Since: time.Now().Add(-time.Hour)}})
	if err != nil || len(use) != 1 || use[0].Requester != quota.GatewayRequester("lb") || use[0].Counts[0] != 3 {
		t.Fatalf("the ledger's requesters: %+v, %v", use, err)
	}

	if _, err := c.api.Do(c.ctx, "DELETE", c.replicas[1].URL+"/api/v1/gateway-keys/lb", nil, nil); err != nil {
		t.Fatal(err)
	}
	// The other replica may answer what it holds until its last word from the
	// database on the key is server.DefaultGatewayRecheck old.
	removed := time.Now()
	for {
		st, _, body := get(0, objects[0])
		if st == 401 && strings.Contains(body, "WrongCredentialsError") {
			break
		}
		if time.Since(removed) > server.DefaultGatewayRecheck+2*time.Second {
			t.Fatalf("a key removed through the other replica, %s later: %d %s", time.Since(removed).Round(time.Millisecond), st, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, l := range c.logs {
		b, _ := os.ReadFile(l)
		if strings.Contains(string(b), realKey) || strings.Contains(string(b), gk.Key) {
			t.Fatalf("%s holds a key", l)
		}
	}
}
