package testknobs_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/scaletest"
)

// knobNames are the environment variables that only a binary built with the test
// knobs reads.
var knobNames = []string{"VTSOAR_QUOTA_WINDOW", "VTSOAR_QUOTA_MARGIN", "VTSOAR_HEALTH_MINUTE",
	"VTSOAR_HEALTH_SWEEP", "VTSOAR_JOB_TIMEOUT", "VTSOAR_RESCUE_AFTER", "VTSOAR_FETCH_POLL"}

// The released binary holds none of the knobs' names and was built without their tag;
// the binary of the multi-process tests holds them all (so that this test would see a
// name that leaked).
func TestReleasedBinaryHasNoTestKnobs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds vtsoar twice")
	}
	ctx := context.Background()
	release, err := scaletest.BuildRelease(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	withKnobs, err := scaletest.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bin  string
		want bool
	}{{release, false}, {withKnobs, true}} {
		b, err := os.ReadFile(c.bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range knobNames {
			if got := bytes.Contains(b, []byte(name)); got != c.want {
				t.Errorf("%s holds %s: %v, want %v", c.bin, name, got, c.want)
			}
		}
		info, err := exec.CommandContext(ctx, "go", "version", "-m", c.bin).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(info), scaletest.TestKnobsTag); got != c.want {
			t.Errorf("go version -m %s names %s: %v, want %v\n%s", c.bin, scaletest.TestKnobsTag, got, c.want, info)
		}
	}
}
