//go:build vtsoar_testknobs

package testknobs

import (
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/quota"
)

// go test -tags vtsoar_testknobs ./internal/cli/testknobs
func TestLoad(t *testing.T) {
	env := map[string]string{"VTSOAR_QUOTA_WINDOW": "2s", "VTSOAR_QUOTA_MARGIN": "-1ns", "VTSOAR_HEALTH_MINUTE": "1s"}
	k, err := Load(func(n string) string { return env[n] })
	if err != nil {
		t.Fatal(err)
	}
	var q quota.Config
	k.Quota(&q)
	o := enrich.Options{JobTimeout: time.Minute}
	k.Enrich(&o)
	if q.Minute != 2*time.Second || q.Margin >= 0 || o.HealthMinute != time.Second || o.JobTimeout != time.Minute {
		t.Fatalf("quota %+v, enrich %+v", q, o)
	}
	env["VTSOAR_JOB_TIMEOUT"] = "soon"
	if _, err := Load(func(n string) string { return env[n] }); err == nil || !strings.Contains(err.Error(), "VTSOAR_JOB_TIMEOUT") {
		t.Fatalf("malformed knob: %v", err)
	}
}
