package enrich

import (
	"fmt"
	"time"
)

// Environment variables read by ApplyTestEnv, for tests only: they shorten the
// service's times so that an end-to-end test of `vtsoar serve` replicas does not take
// minutes. Each is a Go duration such as "2s".
const (
	EnvTestHealthMinute = "VTSOAR_HEALTH_MINUTE" // Options.HealthMinute
	EnvTestHealthSweep  = "VTSOAR_HEALTH_SWEEP"  // Options.HealthSweepInterval
	EnvTestJobTimeout   = "VTSOAR_JOB_TIMEOUT"   // Options.JobTimeout
	EnvTestRescueAfter  = "VTSOAR_RESCUE_AFTER"  // Options.RescueStuckJobsAfter
	EnvTestFetchPoll    = "VTSOAR_FETCH_POLL"    // Options.FetchPollInterval
)

// ApplyTestEnv sets the options that the test-only environment variables (EnvTest*)
// name, read with getenv; unset variables leave their option alone. A value that is
// not a positive duration is an error naming the variable.
func (o *Options) ApplyTestEnv(getenv func(string) string) error {
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{
		{EnvTestHealthMinute, &o.HealthMinute},
		{EnvTestHealthSweep, &o.HealthSweepInterval},
		{EnvTestJobTimeout, &o.JobTimeout},
		{EnvTestRescueAfter, &o.RescueStuckJobsAfter},
		{EnvTestFetchPoll, &o.FetchPollInterval},
	} {
		s := getenv(v.name)
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Errorf("%s=%q: want a positive duration such as 2s", v.name, s)
		}
		*v.dst = d
	}
	return nil
}
