// Package exporttest gives the export formats' tests the envelopes they convert: a
// real lookup against an in-process emulator.
package exporttest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

// Lookup runs the lookup command on inputs against a new emulator (closed when the
// test ends), with the default risk policy and no retries.
func Lookup(t testing.TB, inputs ...string) *command.Envelope {
	t.Helper()
	srv := httptest.NewServer(vtsim.MustNew(vtsim.Options{}))
	t.Cleanup(srv.Close)
	c, err := vt.New("k", vt.WithServerURL(srv.URL), vt.WithRetry(vt.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := command.Prepare(command.Request{Command: command.LookupCommand().Name, Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	env, err := command.Run(context.Background(), command.Deps{Client: c, Cache: cache.NewMemory(), Policy: risk.DefaultPolicy()}, p)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
