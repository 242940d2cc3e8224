//go:build vtsoar_testknobs

package testknobs

import (
	"fmt"
	"time"
)

// Enabled reports whether this binary was built with the knobs (tag vtsoar_testknobs).
const Enabled = true

// Load reads the knobs from the environment through getenv: each variable is a Go
// duration such as "2s" (VTSOAR_QUOTA_MARGIN may also be negative: no margin). Unset
// variables leave their knob at zero; a malformed one is an error that names it.
func Load(getenv func(string) string) (Knobs, error) {
	var k Knobs
	for _, v := range []struct {
		name     string
		dst      *time.Duration
		negative bool
	}{
		{"VTSOAR_QUOTA_WINDOW", &k.QuotaMinute, false},
		{"VTSOAR_QUOTA_MARGIN", &k.QuotaMargin, true},
		{"VTSOAR_HEALTH_MINUTE", &k.HealthMinute, false},
		{"VTSOAR_HEALTH_SWEEP", &k.HealthSweep, false},
		{"VTSOAR_JOB_TIMEOUT", &k.JobTimeout, false},
		{"VTSOAR_RESCUE_AFTER", &k.RescueAfter, false},
		{"VTSOAR_FETCH_POLL", &k.FetchPoll, false},
	} {
		s := getenv(v.name)
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d == 0 || (d < 0 && !v.negative) {
			return Knobs{}, fmt.Errorf("%s=%q: want a positive duration such as 2s", v.name, s)
		}
		*v.dst = d
	}
	return k, nil
}
