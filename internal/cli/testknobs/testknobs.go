// Package testknobs shortens the CLI's, the service's and the emulator's time windows
// for the tests that run vtsoar as real processes (several `vtsoar serve` replicas, a
// CLI run whose daily quota runs out, `vtsoar emulate` counting its minute), which
// cannot wait real minutes and cannot share a synctest bubble with the test.
//
// The knobs exist only in a binary built with the build tag vtsoar_testknobs, which
// internal/scaletest.Build passes. In every other build, the released binary among
// them, Load returns no knobs, reads no environment variable, and the binary holds
// none of their names.
package testknobs

import (
	"time"

	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/vtsim"
)

// Knobs are the shortened times; a zero field leaves its default alone.
type Knobs struct {
	// QuotaMinute and QuotaMargin replace quota.Config's Minute and Margin.
	QuotaMinute, QuotaMargin time.Duration
	// HealthMinute, HealthSweep, JobTimeout, RescueAfter and FetchPoll replace
	// enrich.Options' HealthMinute, HealthSweepInterval, JobTimeout,
	// RescueStuckJobsAfter and FetchPollInterval.
	HealthMinute, HealthSweep, JobTimeout, RescueAfter, FetchPoll time.Duration
}

// Quota applies the quota knobs to cfg.
func (k Knobs) Quota(cfg *quota.Config) {
	set(&cfg.Minute, k.QuotaMinute)
	set(&cfg.Margin, k.QuotaMargin)
}

// Emulator gives the emulator of `vtsoar emulate` a clock on which a minute lasts
// QuotaMinute (ScaledClock), so that its per-minute quota turns as fast as the
// shortened minute of the vtsoar processes it serves.
func (k Knobs) Emulator(o *vtsim.Options) {
	if k.QuotaMinute > 0 {
		o.Now = ScaledClock(k.QuotaMinute)
	}
}

// ScaledClock returns a clock that runs time.Minute/window times faster than the real
// one from now on, so that a calendar minute on it lasts window.
func ScaledClock(window time.Duration) func() time.Time {
	t0 := time.Now()
	factor := float64(time.Minute) / float64(window)
	return func() time.Time {
		return t0.Add(time.Duration(float64(time.Since(t0)) * factor))
	}
}

// Enrich applies the background service's knobs to o.
func (k Knobs) Enrich(o *enrich.Options) {
	set(&o.HealthMinute, k.HealthMinute)
	set(&o.HealthSweepInterval, k.HealthSweep)
	set(&o.JobTimeout, k.JobTimeout)
	set(&o.RescueStuckJobsAfter, k.RescueAfter)
	set(&o.FetchPollInterval, k.FetchPoll)
}

func set(dst *time.Duration, v time.Duration) {
	if v != 0 {
		*dst = v
	}
}
