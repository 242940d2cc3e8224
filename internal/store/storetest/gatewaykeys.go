package storetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
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

// A gateway key read with the stamp of a cached answer: the key as
// GatewayKeyConnection reads it, and the stamp that Current then takes instead of
// reading the store, for the server of the key's connection only.
func testGatewayKeyCacheStamp(t *testing.T, open Opener) {
	ctx := context.Background()
	s, other := open(t, "keystamp", store.Options{}), open(t, "keystamp", store.Options{})
	const emu = "http://emu.example:8080"
	for _, c := range []store.Connection{{Name: "emu", SealedAPIKey: []byte{1}, ServerURL: emu + "/"}, {Name: "vt", SealedAPIKey: []byte{2}}} {
		if err := s.CreateConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []store.GatewayKey{
		{Name: "e", KeyHash: []byte("hash-e"), Connection: "emu", Priority: store.GatewayBatch, MaxWait: time.Second},
		{Name: "v", KeyHash: []byte("hash-v"), Connection: "vt", Priority: store.GatewayBatch, MaxWait: time.Second},
	} {
		if err := s.CreateGatewayKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	c, oc := s.Cache(emu), other.Cache(emu)
	if err := c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"v":1}`, at)); err != nil {
		t.Fatal(err)
	}
	read := func(hash, server, id string) (store.GatewayKey, store.CacheStamp) {
		t.Helper()
		k, cs, st, err := s.GatewayKeyCacheStamp(ctx, []byte(hash), server, ioc.KindFile, id)
		wk, wcs, werr := s.GatewayKeyConnection(ctx, []byte(hash))
		if err != nil || werr != nil || !reflect.DeepEqual(k, wk) || !reflect.DeepEqual(cs, wcs) {
			t.Fatalf("GatewayKeyCacheStamp(%s) = %+v, %+v, %v; GatewayKeyConnection = %+v, %+v, %v", hash, k, cs, err, wk, wcs, werr)
		}
		return k, st
	}
	current := func(what string, ctx context.Context, id string, fetched time.Time, want bool) {
		t.Helper()
		if got, err := c.Current(ctx, ioc.KindFile, id, fetched); err != nil || got != want {
			t.Fatalf("%s: Current = %v, %v; want %v", what, got, err, want)
		}
	}

	if _, st := read("hash-e", emu, eicarMD5); !st.Read() {
		t.Fatal("the stamp of the key's connection's server was not read")
	} else {
		current("the stamp read", st.Context(ctx), eicarMD5, at, true)
		current("another fetch time", st.Context(ctx), eicarMD5, at.Add(time.Second), false)
		// Another replica replaces the answer: the stamp, read before, is what the
		// request it was read for checks its answer against; a check by another id
		// reads the store.
		if err := oc.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"v":2}`, at.Add(time.Second))); err != nil {
			t.Fatal(err)
		}
		current("the stamp read before the replacement", st.Context(ctx), eicarMD5, at, true)
		current("another id than the stamp's", st.Context(ctx), eicarSHA1, at, false)
	}
	_, st := read("hash-e", "HTTP://EMU.example:8080", eicarSHA1)
	current("read after the replacement", st.Context(ctx), eicarSHA1, at, false)
	current("the replacement", st.Context(ctx), eicarSHA1, at.Add(time.Second), true)
	if _, err := oc.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	_, st = read("hash-e", emu, eicarSHA1)
	current("read after another replica cleared the cache", st.Context(ctx), eicarSHA1, at.Add(time.Second), false)

	// Another server than the key's connection's: nothing read for it.
	if _, st := read("hash-v", emu, eicarMD5); st.Read() {
		t.Fatal("a stamp was read from another server's cache than the key's connection's")
	}
	if _, _, _, err := s.GatewayKeyCacheStamp(ctx, []byte("nope"), emu, ioc.KindFile, eicarMD5); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GatewayKeyCacheStamp(missing) err = %v", err)
	}
	// A key whose connection is gone is found, with the connection's ErrNotFound.
	if err := s.DeleteConnection(ctx, "vt"); err != nil {
		t.Fatal(err)
	}
	if k, _, st, err := s.GatewayKeyCacheStamp(ctx, []byte("hash-v"), serverVT, ioc.KindFile, eicarMD5); k.Name != "v" || st.Read() || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GatewayKeyCacheStamp of a key without connection = %+v, %v, %v", k, st, err)
	}
	// Removed through another replica: refused at once.
	if err := other.DeleteGatewayKey(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.GatewayKeyCacheStamp(ctx, []byte("hash-e"), emu, ioc.KindFile, eicarMD5); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a removed key is still found: %v", err)
	}
}
