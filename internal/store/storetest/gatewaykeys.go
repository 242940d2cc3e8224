package storetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

func testGatewayKeys(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "gatewaykeys", store.Options{})
	if err := s.CreateConnection(ctx, store.Connection{Name: "prod", SealedAPIKey: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	misp := store.GatewayKey{Name: "misp", KeyHash: []byte("hash-m"), Connection: "prod", Priority: store.GatewayBatch,
		MaxWait: 90 * time.Second, MaxAge: 24 * time.Hour}
	cli := store.GatewayKey{Name: "vt-cli", KeyHash: []byte("hash-c"), Connection: "prod", Priority: store.GatewayInteractive,
		MaxWait: 1500 * time.Millisecond, MaxAge: time.Hour}
	if _, err := s.GatewayKeyByHash(ctx, misp.KeyHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GatewayKeyByHash(missing) err = %v, want ErrNotFound", err)
	}
	for _, k := range []store.GatewayKey{misp, cli} {
		if err := s.CreateGatewayKey(ctx, k); err != nil {
			t.Fatalf("CreateGatewayKey(%s): %v", k.Name, err)
		}
	}
	for _, c := range []struct {
		why  string
		k    store.GatewayKey
		want error
	}{
		{"same name", store.GatewayKey{Name: "misp", KeyHash: []byte("other"), Connection: "prod", Priority: store.GatewayBatch}, store.ErrExists},
		{"same hash", store.GatewayKey{Name: "cortex", KeyHash: []byte("hash-m"), Connection: "prod", Priority: store.GatewayBatch}, store.ErrExists},
		{"no such connection", store.GatewayKey{Name: "cortex", KeyHash: []byte("h"), Connection: "gone", Priority: store.GatewayBatch}, store.ErrNotFound},
	} {
		if err := s.CreateGatewayKey(ctx, c.k); !errors.Is(err, c.want) {
			t.Errorf("CreateGatewayKey with %s: err = %v, want %v", c.why, err, c.want)
		}
	}
	for _, bad := range []store.GatewayKey{
		{Name: "", KeyHash: []byte("h1"), Connection: "prod", Priority: store.GatewayBatch},
		{Name: "x", Connection: "prod", Priority: store.GatewayBatch},
		{Name: "x", KeyHash: []byte("h1"), Priority: store.GatewayBatch},
		{Name: "x", KeyHash: []byte("h1"), Connection: "prod", Priority: "urgent"},
		{Name: "x", KeyHash: []byte("h1"), Connection: "prod", Priority: store.GatewayBatch, MaxWait: -time.Second},
	} {
		if err := s.CreateGatewayKey(ctx, bad); err == nil {
			t.Errorf("CreateGatewayKey(%+v) succeeded", bad)
		}
	}

	got, err := s.GatewayKeyByHash(ctx, []byte("hash-c"))
	if err != nil {
		t.Fatal(err)
	}
	got.CreatedAt = time.Time{}
	if !reflect.DeepEqual(got, cli) {
		t.Fatalf("GatewayKeyByHash = %+v, want %+v", got, cli)
	}
	prod, _ := s.GetConnection(ctx, "prod")
	k, c, err := s.GatewayKeyConnection(ctx, []byte("hash-c"))
	if k.CreatedAt = (time.Time{}); err != nil || !reflect.DeepEqual(k, cli) ||
		!reflect.DeepEqual(c, store.ConnectionStamp{Name: "prod", UpdatedAt: prod.UpdatedAt, SealedAPIKey: []byte{1}}) {
		t.Fatalf("GatewayKeyConnection = %+v, %+v, %v", k, c, err)
	}
	if _, _, err := s.GatewayKeyConnection(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GatewayKeyConnection(missing) err = %v", err)
	}
	if k, err := s.GetGatewayKey(ctx, "misp"); err != nil || !bytes.Equal(k.KeyHash, misp.KeyHash) || k.MaxWait != misp.MaxWait || k.CreatedAt.IsZero() {
		t.Fatalf("GetGatewayKey(misp) = %+v, %v", k, err)
	}
	if list, err := s.ListGatewayKeys(ctx); err != nil || len(list) != 2 || list[0].Name != "misp" || list[1].Name != "vt-cli" {
		t.Fatalf("ListGatewayKeys = %+v, %v; want misp, vt-cli", list, err)
	}

	// A key whose connection is gone is found, with the connection's ErrNotFound.
	if err := s.CreateConnection(ctx, store.Connection{Name: "brief", SealedAPIKey: []byte{2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGatewayKey(ctx, store.GatewayKey{Name: "orphan", KeyHash: []byte("hash-o"), Connection: "brief", Priority: store.GatewayBatch, MaxWait: time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, "brief"); err != nil {
		t.Fatal(err)
	}
	if k, _, err := s.GatewayKeyConnection(ctx, []byte("hash-o")); k.Name != "orphan" || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GatewayKeyConnection of a key without connection = %+v, %v", k, err)
	}
	if err := s.DeleteGatewayKey(ctx, "orphan"); err != nil {
		t.Fatal(err)
	}

	// Removed through another handle (another replica): refused here at once.
	s2 := open(t, "gatewaykeys", store.Options{})
	if err := s2.DeleteGatewayKey(ctx, "misp"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GatewayKeyByHash(ctx, misp.KeyHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a removed key is still found: %v", err)
	}
	if err := s.DeleteGatewayKey(ctx, "misp"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteGatewayKey twice err = %v", err)
	}
}

func testLedgerRequesters(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "requesters", store.Options{})
	clk := NewClock(t0)
	limited := func(now time.Time) []store.Window {
		return []store.Window{{Since: now.Add(-time.Minute), Limit: 100, Span: time.Minute}}
	}
	take := func(budget, who string, windows func(time.Time) []store.Window) {
		t.Helper()
		r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: budget, Clock: clk.Now, Windows: windows, Requester: who})
		if err != nil || !r.Granted {
			t.Fatalf("TakeUnit(%s, %s) = %+v, %v", budget, who, r, err)
		}
	}
	for _, who := range []string{"gateway:misp", "cli", "gateway:misp", ""} {
		take("b", who, limited)
	}
	clk.Advance(2 * time.Minute)
	take("b", "user:alice", limited)
	take("b", "gateway:misp", nil) // an unlimited budget's unit, written by the batcher
	take("other", "cli", limited)

	got, err := s.RequesterUsage(ctx, "b", []store.Window{{Since: t0}, {Since: clk.Now().Add(-time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.RequesterCounts{
		{Requester: "", Counts: []int{1, 0}},
		{Requester: "cli", Counts: []int{1, 0}},
		{Requester: "gateway:misp", Counts: []int{3, 1}},
		{Requester: "user:alice", Counts: []int{1, 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("RequesterUsage = %+v, want %+v", got, want)
	}
	if got, err := s.RequesterUsage(ctx, "b", []store.Window{{Since: clk.Now().Add(time.Hour)}}); err != nil || len(got) != 0 {
		t.Fatalf("RequesterUsage of an empty window = %+v, %v", got, err)
	}
}
