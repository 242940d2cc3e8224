// Package testknobs shortens the CLI's and the service's time windows for the tests
// that run vtsoar as real processes (several `vtsoar serve` replicas, a CLI run whose
// daily quota runs out), which cannot wait real minutes and cannot share a synctest
// bubble with the test.
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
