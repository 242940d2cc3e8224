// Package storetest is the behaviour every store.Store implementation must have, as a
// test suite that an implementation's tests run with Run.
package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

// Opener opens the database called name (creating it empty the first time a test uses
// that name) with opts. Two calls with one name within a test give two independent
// handles on the same data, as two processes would have. The opener closes what it
// opened when the test ends.
type Opener func(t *testing.T, name string, opts store.Options) store.Store

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	t.Run("Connections", func(t *testing.T) { testConnections(t, open) })
	t.Run("LedgerWindows", func(t *testing.T) { testLedgerWindows(t, open) })
	t.Run("LedgerUnlimited", func(t *testing.T) { testLedgerUnlimited(t, open) })
	t.Run("LedgerHold", func(t *testing.T) { testLedgerHold(t, open) })
	t.Run("LedgerWaiters", func(t *testing.T) { testLedgerWaiters(t, open) })
	t.Run("LedgerUsageAndPrune", func(t *testing.T) { testLedgerUsage(t, open) })
	t.Run("LedgerPruneByTheCallersClock", func(t *testing.T) { testLedgerPruneClock(t, open) })
	t.Run("LedgerConcurrentHandles", func(t *testing.T) { testLedgerConcurrent(t, open) })
	t.Run("CacheAliases", func(t *testing.T) { testCacheAliases(t, open) })
	t.Run("CacheMaxAgeAndNegativeTTL", func(t *testing.T) { testCacheTTL(t, open) })
	t.Run("CacheServerScope", func(t *testing.T) { testCacheScope(t, open) })
	t.Run("CacheReplace", func(t *testing.T) { testCacheReplace(t, open) })
	t.Run("CacheCurrent", func(t *testing.T) { testCacheCurrent(t, open) })
	t.Run("CacheLargeBodies", func(t *testing.T) { testCacheLargeBodies(t, open) })
	t.Run("CacheAsyncPuts", func(t *testing.T) { testCacheAsyncPuts(t, open) })
	t.Run("CacheStatsClearPrune", func(t *testing.T) { testCacheStats(t, open) })
	t.Run("CacheConcurrent", func(t *testing.T) { testCacheConcurrent(t, open) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("Files", func(t *testing.T) { testFiles(t, open) })
	t.Run("Events", func(t *testing.T) { testEvents(t, open) })
	t.Run("Incidents", func(t *testing.T) { testIncidents(t, open) })
	t.Run("IncidentRiskConcurrent", func(t *testing.T) { testIncidentRiskConcurrent(t, open) })
	t.Run("ArtifactFiles", func(t *testing.T) { testArtifactFiles(t, open) })
	t.Run("EventsConcurrent", func(t *testing.T) { testEventsConcurrent(t, open) })
	t.Run("HealthChecks", func(t *testing.T) { testHealthChecks(t, open) })
	t.Run("GatewayKeys", func(t *testing.T) { testGatewayKeys(t, open) })
	t.Run("GatewayKeyCacheStamp", func(t *testing.T) { testGatewayKeyCacheStamp(t, open) })
	t.Run("LedgerRequesters", func(t *testing.T) { testLedgerRequesters(t, open) })
	t.Run("LedgerWaitersRecord", func(t *testing.T) { testLedgerWaitersRecord(t, open) })
	t.Run("Runs", func(t *testing.T) { testRuns(t, open) })
}

// Clock is a settable clock for tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// t0 is the suite's starting time: the moment the run began, so that nothing here
// depends on a calendar date that will pass.
var t0 = time.Now().UTC().Truncate(time.Second)
