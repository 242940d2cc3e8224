package gateway_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/gateway"
	"github.com/vtsoar/vtsoar/internal/pipenet"
	"github.com/vtsoar/vtsoar/internal/scaletest"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vtsim"
)

// rig is a gateway on a store, in front of an emulator, both on an in-memory network.
type rig struct {
	st    store.Store
	rec   *scaletest.Recorder
	g     *gateway.Gateway
	gw    *pipenet.Listener
	stops []func()
}

// newRig serves the gateway for one connection with budget quota on an emulator
// configured by simOpts, its configuration changed by each of with; it stops when
// the test ends.
func newRig(t *testing.T, quota string, simOpts vtsim.Options, with ...configFunc) *rig {
	t.Helper()
	rec := scaletest.NewRecorder(vtsim.MustNew(simOpts))
	simL, stopSim := pipenet.Serve("vtsim", rec)
	const realKey = "real-key-of-the-public-connection-0123456789"
	hc := simL.HTTPClient()
	st, g := gatewayOn(t, "pub", "http://vtsim", quota, realKey, hc, with...)
	gwL, stopGw := pipenet.Serve("vtsoar", g)
	r := &rig{st: st, rec: rec, g: g, gw: gwL}
	r.stops = []func(){stopGw, hc.CloseIdleConnections, stopSim, func() { st.Close() }}
	return r
}

// gatewayOn opens a store in a temporary directory, stores the connection name on
// serverURL with quota and realKey, and returns the store (for the caller to close) and
// a gateway whose every key leads to the connection's client, as `vtsoar serve` keeps
// it in a pool, sending with hc, its configuration changed by each of with.
func gatewayOn(t *testing.T, name, serverURL, quota, realKey string, hc *http.Client, with ...configFunc) (store.Store, *gateway.Gateway) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "vtsoar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := make([]byte, secret.KeySize)
	rand.Read(k)
	cipher, err := secret.NewCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := connclient.SealKey(cipher, name, realKey)
	if err != nil {
		t.Fatal(err)
	}
	c := store.Connection{Name: name, SealedAPIKey: sealed, ServerURL: serverURL, Quota: quota}
	if err := st.CreateConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	conn, err := connclient.NewPool(st, cipher, connclient.Options{HTTPClient: hc}).Get(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	up := &gateway.Upstream{Connection: name, Server: conn.Client.ServerURL(), APIKey: realKey, HTTP: hc,
		Limiter: conn.Limiter, Cache: conn.Answers(), Public: conn.PublicKey()}
	cfg := gateway.Config{Sealer: cipher,
		Key: func(ctx context.Context, hash []byte) (store.GatewayKey, *gateway.Upstream, error) {
			k, err := st.GatewayKeyByHash(ctx, hash)
			return k, up, err
		},
		KeyNamed: func(ctx context.Context, name string) (store.GatewayKey, *gateway.Upstream, error) {
			k, err := st.GetGatewayKey(ctx, name)
			return k, up, err
		}}
	for _, f := range with {
		f(&cfg, st, up)
	}
	g, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st, g
}

// configFunc changes the configuration of gatewayOn's gateway, given its store and its
// connection's client.
type configFunc func(cfg *gateway.Config, st store.Store, up *gateway.Upstream)

// key makes a gateway key named name for the rig's connection and returns it.
func (r *rig) key(t *testing.T, name string) string {
	t.Helper()
	key, _, err := auth.CreateGatewayKey(t.Context(), r.st, auth.GatewayKeyOptions{Name: name, Connection: "pub"})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func (r *rig) stop() {
	for _, f := range r.stops {
		f()
	}
}

// A public budget (the emulator's quota: 4 a minute) and three clients on keys of
// their own, each asking for its objects (overlapping the others') once a second for
// 90 seconds: VirusTotal never gets more than 4 requests in a minute (so never refuses
// one), no object is asked twice, and every request is answered or refused with 429
// QuotaExceededError and Retry-After, after which the client asks again.
func TestPublicBudgetThreeClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "public", vtsim.Options{QuotaMinute: 4})
		defer r.stop()
		type outcome struct {
			status     int
			code       string
			retryAfter int
		}
		var (
			mu       sync.Mutex
			outcomes []outcome
			wg       sync.WaitGroup
		)
		start := time.Now()
		for c := range 3 {
			key, _, err := auth.CreateGatewayKey(t.Context(), r.st, auth.GatewayKeyOptions{Name: fmt.Sprintf("client-%d", c),
				Connection: "pub", MaxWait: 10 * time.Second, Priority: []string{"interactive", "batch", "interactive"}[c]})
			if err != nil {
				t.Fatal(err)
			}
			var objects []string
			for i := range 6 {
				objects = append(objects, fmt.Sprintf("domains/object-%02d.com", (c*2+i)%8))
			}
			cli := r.gw.HTTPClient()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cli.CloseIdleConnections()
				for i := 0; time.Since(start) < 90*time.Second; {
					req, _ := http.NewRequest("GET", "http://vtsoar/api/v3/"+objects[i%len(objects)], nil)
					req.Header.Set("x-apikey", key)
					res, err := cli.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					var v struct{ Error struct{ Code string } }
					json.Unmarshal(b, &v)
					ra, _ := strconv.Atoi(res.Header.Get("Retry-After"))
					mu.Lock()
					outcomes = append(outcomes, outcome{res.StatusCode, v.Error.Code, ra})
					mu.Unlock()
					if res.StatusCode == http.StatusTooManyRequests {
						time.Sleep(time.Duration(ra) * time.Second)
						continue // the same object again
					}
					i++
					time.Sleep(time.Second)
				}
			}()
		}
		wg.Wait()

		calls := r.rec.Requests()
		if len(calls) < 8 {
			t.Fatalf("only %d requests reached VirusTotal in 90 s of a 4-a-minute budget", len(calls))
		}
		asked := map[string]int{}
		for _, c := range calls {
			asked[c.Endpoint]++
			if c.Status != http.StatusOK && c.Status != http.StatusNotFound {
				t.Errorf("VirusTotal answered %d to %s", c.Status, c.Endpoint)
			}
		}
		if n, at := scaletest.MaxInWindow(calls, "", time.Minute); n > 4 {
			t.Errorf("%d requests reached VirusTotal within a minute of %s", n, at.Sub(start))
		}
		for p, n := range asked {
			if n > 1 {
				t.Errorf("%s was asked %d times", p, n)
			}
		}
		refused, hits := 0, 0
		for _, o := range outcomes {
			switch {
			case o.status == http.StatusOK || o.status == http.StatusNotFound:
				hits++
			case o.status == http.StatusTooManyRequests && o.code == "QuotaExceededError" && o.retryAfter >= 1:
				refused++
			default:
				t.Errorf("a client got %+v", o)
			}
		}
		if refused == 0 || hits <= len(calls) {
			t.Fatalf("%d of %d requests refused, %d answered for %d upstream: the budget and the cache were not put to the test",
				refused, len(outcomes), hits, len(calls))
		}
		t.Logf("%d requests answered, %d refused with 429; VirusTotal asked %d times for %d objects", len(outcomes)-refused, refused, len(calls), len(asked))
	})
}

// An answer the gateway keeps in memory is served only while the store's cache still
// holds it: another replica's newer answer, or a cleared cache, is seen at once.
func TestRecentAnswersFollowTheStore(t *testing.T) {
	r := newRig(t, "premium", vtsim.Options{})
	defer r.stop()
	key := r.key(t, "k")
	cli := r.gw.HTTPClient()
	defer cli.CloseIdleConnections()
	get := func() (string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://vtsoar/api/v3/domains/recent.com", nil)
		req.Header.Set("x-apikey", key)
		res, err := cli.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b), res.Header.Get("X-Vtsoar-Cache")
	}
	first, how := get()
	if how != "miss" {
		t.Fatalf("first GET: %s", how)
	}
	if again, how := get(); how != "hit" || again != first {
		t.Fatalf("second GET: %s, same body %v", how, again == first)
	}
	// Another replica stores a newer answer of the object.
	c := r.st.Cache("http://vtsim")
	newer := strings.Replace(first, `"reputation":`, `"reputation":1`, 1)
	if newer == first {
		t.Fatalf("the answer has no reputation to change: %.300s", first)
	}
	if err := c.Put(t.Context(), cache.Entry{Kind: ioc.KindDomain, ID: "recent.com", Body: []byte(newer)}); err != nil {
		t.Fatal(err)
	}
	if got, how := get(); how != "hit" || got != newer {
		t.Fatalf("after another replica's answer: %s, newer %v", how, got == newer)
	}
	if _, err := c.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, how := get(); how != "miss" {
		t.Fatalf("after cache clear: %s, want VirusTotal asked again", how)
	}
	if n := len(r.rec.Requests()); n != 2 {
		t.Fatalf("VirusTotal was asked %d times, want 2", n)
	}
}
