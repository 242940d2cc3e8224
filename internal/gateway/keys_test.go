package gateway_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/gateway"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vtsim"
)

// A key removed through this process (Forget) while a request was reading it from the
// store is not remembered by that request: within Config.Recheck, the request after
// the removal reads the store again and is refused.
func TestForgetOvertakesAKeyBeingRead(t *testing.T) {
	var (
		reads   atomic.Int32
		reading = make(chan struct{})
		release = make(chan struct{})
	)
	r := newRig(t, "premium", vtsim.Options{}, func(cfg *gateway.Config, st store.Store, up *gateway.Upstream) {
		cfg.Recheck = time.Hour
		cfg.KeyFor = func(ctx context.Context, hash []byte, _ ioc.Kind, _ string) (context.Context, store.GatewayKey, *gateway.Upstream, error) {
			k, err := st.GatewayKeyByHash(ctx, hash)
			if reads.Add(1) == 2 {
				close(reading) // the key is read; the removal comes now
				<-release
			}
			return ctx, k, up, err
		}
	})
	defer r.stop()
	key := r.key(t, "k")
	cli := r.gw.HTTPClient()
	defer cli.CloseIdleConnections()
	get := func() int {
		req, _ := http.NewRequest("GET", "http://vtsoar/api/v3/domains/forget.example.com", nil)
		req.Header.Set("x-apikey", key)
		res, err := cli.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := get(); st != http.StatusOK {
		t.Fatalf("first GET: %d", st)
	}
	if st := get(); st != http.StatusOK || reads.Load() != 1 {
		t.Fatalf("a GET within the recheck: %d, the key read %d times, want once", st, reads.Load())
	}
	r.g.Forget() // the next GET reads the key: it is the one the removal overtakes
	second := make(chan int)
	go func() { second <- get() }()
	<-reading
	if err := r.st.DeleteGatewayKey(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	r.g.Forget()
	close(release)
	if st := <-second; st != http.StatusOK {
		t.Fatalf("the GET whose key was read before the removal: %d", st)
	}
	if st := get(); st != http.StatusUnauthorized {
		t.Fatalf("the GET after the removal: %d, want 401", st)
	}
}
