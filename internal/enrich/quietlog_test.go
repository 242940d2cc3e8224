package enrich

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestQuietLoggerDemotesInfo(t *testing.T) {
	for _, tt := range []struct {
		level      slog.Level
		info, warn bool
	}{{slog.LevelInfo, false, true}, {slog.LevelDebug, true, true}, {slog.LevelWarn, false, true}, {slog.LevelError, false, false}} {
		var b bytes.Buffer
		l := quiet(slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: tt.level}))).With("component", "river")
		l.Info("producer: Producer job counts", "num_completed_jobs", 3)
		l.Warn("job failed", "attempt", 2)
		out := b.String()
		if got := strings.Contains(out, "Producer job counts"); got != tt.info {
			t.Errorf("at %s: River's info line logged %v:\n%s", tt.level, got, out)
		}
		if tt.info && !strings.Contains(out, "level=DEBUG") {
			t.Errorf("at %s: the info line is not logged as DEBUG:\n%s", tt.level, out)
		}
		if got := strings.Contains(out, "level=WARN msg=\"job failed\""); got != tt.warn {
			t.Errorf("at %s: the warning logged %v:\n%s", tt.level, got, out)
		}
		if tt.warn && !strings.Contains(out, "component=river") {
			t.Errorf("attributes lost: %s", out)
		}
	}
}
