package storetest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
)

func fileEntry(sha256, md5, sha1, body string, at time.Time) cache.Entry {
	return cache.Entry{Kind: ioc.KindFile, ID: sha256, Aliases: []string{md5, sha1}, Body: []byte(body), FetchedAt: at}
}

const (
	eicarSHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	eicarMD5    = "44d88612fea8a8f36de82e1278abb02f"
	eicarSHA1   = "3395856ce81f2b7382dee72602f798b642f14140"
	serverVT    = "https://www.virustotal.com"
)

func mustGet(t *testing.T, c cache.Cache, kind ioc.Kind, id string, maxAge time.Duration) (cache.Entry, bool) {
	t.Helper()
	e, ok, err := c.Get(context.Background(), kind, id, maxAge)
	if err != nil {
		t.Fatal(err)
	}
	return e, ok
}

func testCacheAliases(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "aliases", store.Options{Now: clk.Now})
	c := s.Cache(serverVT)
	if _, ok := mustGet(t, c, ioc.KindFile, eicarMD5, 0); ok {
		t.Fatal("hit in an empty cache")
	}
	body := `{"data":{"id":"` + eicarSHA256 + `","type":"file"}}`
	if err := c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, body, t0)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{eicarSHA256, eicarMD5, eicarSHA1} {
		e, ok := mustGet(t, c, ioc.KindFile, id, 0)
		if !ok {
			t.Fatalf("miss by %s", id)
		}
		if e.ID != eicarSHA256 || string(e.Body) != body || e.Kind != ioc.KindFile || e.NotFound || !e.FetchedAt.Equal(t0) ||
			!reflect.DeepEqual(e.Aliases, []string{eicarMD5, eicarSHA1}) {
			t.Fatalf("Get(%s) = %+v", id, e)
		}
	}
	// Kinds do not mix: a domain called like the hash is not the file.
	if _, ok := mustGet(t, c, ioc.KindDomain, eicarMD5, 0); ok {
		t.Fatal("file entry returned for a domain lookup")
	}
	// Another handle (another process) hits too.
	other := open(t, "aliases", store.Options{Now: clk.Now})
	if _, ok := mustGet(t, other.Cache(serverVT), ioc.KindFile, eicarSHA1, 0); !ok {
		t.Fatal("second handle misses")
	}
	// URL: the base64url id and the sha256 id form.
	u := cache.Entry{Kind: ioc.KindURL, ID: "aHR0cDovL2V4YW1wbGUuY29tLw", Aliases: []string{"0f115db062b7c0dd030b16878c99dea5c354b49dc37b38eb8846179c7783e9d7"},
		Body: []byte(`{"data":{}}`), FetchedAt: t0}
	if err := c.Put(ctx, u); err != nil {
		t.Fatal(err)
	}
	if e, ok := mustGet(t, c, ioc.KindURL, u.Aliases[0], 0); !ok || e.ID != u.ID {
		t.Fatalf("URL by sha256 id: %+v %v", e, ok)
	}
}

func testCacheTTL(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "ttl", store.Options{Now: clk.Now, NegativeTTL: 2 * time.Minute})
	c := s.Cache(serverVT)
	c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"data":{}}`, t0))
	missing := "0000000000000000000000000000000000000000000000000000000000000000"
	if err := c.Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: missing, NotFound: true, FetchedAt: t0}); err != nil {
		t.Fatal(err)
	}
	e, ok := mustGet(t, c, ioc.KindFile, missing, 0)
	if !ok || !e.NotFound || e.Body != nil {
		t.Fatalf("fresh not-found: %+v %v", e, ok)
	}
	clk.Advance(90 * time.Second)
	if _, ok := mustGet(t, c, ioc.KindFile, eicarMD5, time.Minute); ok {
		t.Fatal("hit older than maxAge")
	}
	if _, ok := mustGet(t, c, ioc.KindFile, eicarMD5, 2*time.Minute); !ok {
		t.Fatal("miss younger than maxAge")
	}
	if _, ok := mustGet(t, c, ioc.KindFile, missing, 0); !ok {
		t.Fatal("not-found entry expired before the negative TTL")
	}
	if _, ok := mustGet(t, c, ioc.KindFile, missing, time.Minute); ok {
		t.Fatal("not-found entry older than maxAge returned")
	}
	clk.Advance(31 * time.Second) // 2m01s
	if _, ok := mustGet(t, c, ioc.KindFile, missing, 0); ok {
		t.Fatal("not-found entry outlived the negative TTL")
	}
	if _, ok := mustGet(t, c, ioc.KindFile, eicarSHA256, 0); !ok {
		t.Fatal("positive entry expired with maxAge 0 (any age)")
	}
	// The default negative TTL applies when none is set.
	d := open(t, "ttl-default", store.Options{Now: clk.Now})
	dc := d.Cache(serverVT)
	dc.Put(ctx, cache.Entry{Kind: ioc.KindIP, ID: "192.0.2.1", NotFound: true, FetchedAt: clk.Now()})
	clk.Advance(cache.DefaultNegativeTTL - time.Second)
	if _, ok := mustGet(t, dc, ioc.KindIP, "192.0.2.1", 0); !ok {
		t.Fatal("not-found entry expired before cache.DefaultNegativeTTL")
	}
	clk.Advance(2 * time.Second)
	if _, ok := mustGet(t, dc, ioc.KindIP, "192.0.2.1", 0); ok {
		t.Fatal("not-found entry outlived cache.DefaultNegativeTTL")
	}
}

func testCacheScope(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "scope", store.Options{})
	vtc := s.Cache(serverVT)
	emu := s.Cache("http://127.0.0.1:8089")
	vtc.Put(ctx, cache.Entry{Kind: ioc.KindDomain, ID: "example.com", Body: []byte(`{"real":1}`)})
	if _, ok := mustGet(t, emu, ioc.KindDomain, "example.com", 0); ok {
		t.Fatal("the emulator's cache returned VirusTotal's answer")
	}
	emu.Put(ctx, cache.Entry{Kind: ioc.KindDomain, ID: "example.com", Body: []byte(`{"emulated":1}`)})
	e, _ := mustGet(t, vtc, ioc.KindDomain, "example.com", 0)
	if string(e.Body) != `{"real":1}` {
		t.Fatalf("VirusTotal's cache now holds %s", e.Body)
	}
	// Spelling variants of one server share a cache.
	if e, ok := mustGet(t, s.Cache("HTTPS://WWW.VirusTotal.com/"), ioc.KindDomain, "example.com", 0); !ok || string(e.Body) != `{"real":1}` {
		t.Fatal("normalised server URL misses")
	}
	if e, ok := mustGet(t, s.Cache(""), ioc.KindDomain, "example.com", 0); !ok || string(e.Body) != `{"real":1}` {
		t.Fatal("empty server URL is not VirusTotal's")
	}
	servers, err := s.CacheServers(ctx)
	if err != nil || !reflect.DeepEqual(servers, []string{"http://127.0.0.1:8089", serverVT}) {
		t.Fatalf("CacheServers = %v, %v", servers, err)
	}
}

func testCacheReplace(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "replace", store.Options{Now: clk.Now})
	c := s.Cache(serverVT)
	// A not-found answer for an md5 is replaced when the file turns up under its sha256.
	c.Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: eicarMD5, NotFound: true})
	c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"found":1}`, clk.Now()))
	e, ok := mustGet(t, c, ioc.KindFile, eicarMD5, 0)
	if !ok || e.NotFound || e.ID != eicarSHA256 {
		t.Fatalf("md5 after the file was found: %+v %v", e, ok)
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 1 || st.NotFound != 0 || st.Aliases != 3 {
		t.Fatalf("stale not-found entry left behind: %+v", st)
	}
	// A newer answer replaces the body.
	c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"found":2}`, clk.Now()))
	if e, _ := mustGet(t, c, ioc.KindFile, eicarSHA1, 0); string(e.Body) != `{"found":2}` {
		t.Fatalf("body not replaced: %s", e.Body)
	}
	if err := c.Put(ctx, cache.Entry{Kind: ioc.KindFile}); err == nil {
		t.Fatal("entry without id accepted")
	}
}

// Answers of VirusTotal's size come back byte for byte, from another handle too,
// however they are stored; Stats counts the bytes as stored.
func testCacheLargeBodies(t *testing.T, open Opener) {
	ctx := context.Background()
	s, other := open(t, "large", store.Options{}), open(t, "large", store.Options{})
	var big bytes.Buffer
	big.WriteString(`{"data": {"id": "x", "attributes": {"last_analysis_results": {`)
	for i := range 400 {
		fmt.Fprintf(&big, "%s\n    \"engine%d\": {\"category\": \"undetected\", \"result\": null, \"engine_version\": \"%d.%d\"}",
			map[bool]string{true: "", false: ","}[i == 0], i, i%7, i*31%1000)
	}
	big.WriteString("}}}}\n")
	noise := make([]byte, 3000) // incompressible
	for i := range noise {
		noise[i] = byte(i*7919 + i*i*31)
	}
	bodies := map[string][]byte{"compressible": big.Bytes(), "incompressible": noise, "small": []byte(`{"a": 1}`)}
	c := s.Cache(serverVT)
	total := 0
	for name, body := range bodies {
		if err := c.Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: name, Body: body}); err != nil {
			t.Fatal(err)
		}
		total += len(body)
	}
	for name, body := range bodies {
		e, ok, err := other.Cache(serverVT).Get(ctx, ioc.KindFile, name, 0)
		if err != nil || !ok || !bytes.Equal(e.Body, body) {
			t.Fatalf("%s answer (%d bytes): got %d bytes back, %v %v", name, len(body), len(e.Body), ok, err)
		}
	}
	st, err := c.Stats(ctx)
	if err != nil || st.Bytes <= 0 || st.Bytes >= int64(total) {
		t.Fatalf("stats %+v, %v: want the stored size, under the %d bytes of the answers", st, err, total)
	}
}

// A CacheNoWait put returns before it is written; the handle's Close writes every one
// of them, for any other handle to read.
func testCacheAsyncPuts(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "async", store.Options{})
	body := bytes.Repeat([]byte(`{"k": "v"}, `), 500)
	for i := range 300 {
		id := fmt.Sprintf("%064x", i)
		if err := s.CacheNoWait(serverVT).Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: id, Aliases: []string{id[:32]}, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	other := open(t, "async", store.Options{})
	for i := range 300 {
		id := fmt.Sprintf("%064x", i)
		e, ok, err := other.Cache(serverVT).Get(ctx, ioc.KindFile, id[:32], 0)
		if err != nil || !ok || !bytes.Equal(e.Body, body) {
			t.Fatalf("answer %d after the close: %v %v (%d bytes)", i, ok, err, len(e.Body))
		}
	}
}

// Current tells whether an entry kept in memory is still the stored one, through any
// of its names and from any handle.
func testCacheCurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	s, other := open(t, "current", store.Options{}), open(t, "current", store.Options{})
	c, oc := s.Cache(serverVT), other.Cache(serverVT)
	at := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	current := func(what, id string, fetched time.Time, want bool) {
		t.Helper()
		if got, err := c.Current(ctx, ioc.KindFile, id, fetched); err != nil || got != want {
			t.Fatalf("%s: Current = %v, %v; want %v", what, got, err, want)
		}
	}
	current("nothing stored", eicarSHA256, at, false)
	if err := c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"v":1}`, at)); err != nil {
		t.Fatal(err)
	}
	current("by sha256", eicarSHA256, at, true)
	current("by md5", eicarMD5, at, true)
	current("another fetch time", eicarSHA1, at.Add(time.Second), false)
	if err := oc.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"v":2}`, at.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	current("replaced by another handle", eicarMD5, at, false)
	current("the replacement", eicarMD5, at.Add(time.Second), true)
	if _, err := oc.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	current("cleared by another handle", eicarSHA256, at.Add(time.Second), false)
}

func testCacheStats(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "stats", store.Options{Now: clk.Now})
	c := s.Cache(serverVT)
	c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, "0123456789", t0))
	c.Put(ctx, cache.Entry{Kind: ioc.KindIP, ID: "192.0.2.1", NotFound: true, FetchedAt: t0.Add(time.Minute)})
	s.Cache("http://emu").Put(ctx, cache.Entry{Kind: ioc.KindIP, ID: "192.0.2.1", Body: []byte("x")})
	clk.Advance(2 * time.Second)
	mustGet(t, c, ioc.KindFile, eicarMD5, 0)           // hit
	mustGet(t, c, ioc.KindFile, eicarSHA256, 0)        // hit
	mustGet(t, c, ioc.KindFile, "ffff", 0)             // miss
	mustGet(t, c, ioc.KindFile, eicarMD5, time.Second) // miss (too old)
	// A second handle's lookups count too once it is closed (as a process exits).
	other := open(t, "stats", store.Options{Now: clk.Now})
	mustGet(t, other.Cache(serverVT), ioc.KindIP, "192.0.2.1", 0) // hit
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.CacheStats{Server: serverVT, Entries: 2, NotFound: 1, Aliases: 4, Bytes: 10, Hits: 3, Misses: 2,
		Oldest: t0, Newest: t0.Add(time.Minute)}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("Stats = %+v\nwant    %+v", st, want)
	}
	if n, err := c.Prune(ctx, t0.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	if _, ok := mustGet(t, c, ioc.KindFile, eicarMD5, 0); ok {
		t.Fatal("pruned entry still found")
	}
	if st, _ := c.Stats(ctx); st.Entries != 1 || st.Aliases != 1 {
		t.Fatalf("after Prune: %+v", st)
	}
	n, err := c.Clear(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Clear = %d, %v", n, err)
	}
	if st, _ := c.Stats(ctx); st.Entries != 0 || st.Hits != 0 || st.Misses != 0 || st.Aliases != 0 {
		t.Fatalf("after Clear: %+v", st)
	}
	if _, ok := mustGet(t, s.Cache("http://emu"), ioc.KindIP, "192.0.2.1", 0); !ok {
		t.Fatal("Clear of one server emptied another")
	}
}

func testCacheConcurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "cache-race", store.Options{})
	c := s.Cache(serverVT)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				id := fmt.Sprintf("%064x", i)
				alias := fmt.Sprintf("%032x", i)
				if g%2 == 0 {
					if err := c.Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: id, Aliases: []string{alias}, Body: []byte(id)}); err != nil {
						errs <- err
						return
					}
				} else if e, ok, err := c.Get(ctx, ioc.KindFile, alias, 0); err != nil {
					errs <- err
					return
				} else if ok && string(e.Body) != id {
					errs <- fmt.Errorf("alias %s gave body of %s", alias, e.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st, _ := c.Stats(ctx); st.Entries != 20 || st.Aliases != 40 {
		t.Fatalf("after concurrent puts: %+v", st)
	}
}
