package console

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

// TestHourlyUnits records units at known times in a real ledger and reads them back
// hour by hour: the current hour last, units older than the chart left out, and other
// budgets not counted.
func TestHourlyUnits(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "q.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hour := time.Now().UTC().Truncate(time.Hour) // the chart's current hour
	now := hour.Add(20 * time.Minute)
	take := func(budget string, at time.Time) {
		t.Helper()
		res, err := st.TakeUnit(ctx, store.TakeRequest{Budget: budget, Clock: func() time.Time { return at }})
		if err != nil || res.Full >= 0 || !res.HeldUntil.IsZero() {
			t.Fatalf("take at %v: %+v %v", at, res, err)
		}
	}
	take("b", now.Add(-30*time.Hour))  // before the chart
	take("b", hour.Add(-23*time.Hour)) // the first hour of the chart
	for i := 0; i < 3; i++ {
		take("b", hour.Add(-4*time.Hour-time.Second)) // the last second of the hour 5 hours ago
	}
	take("b", hour) // the current hour
	take("b", now)
	take("other", now)

	got, err := hourlyUnits(ctx, st, "b", now)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, chartHours)
	want[0] = 1  // 23 hours ago
	want[18] = 3 // 5 hours ago
	want[23] = 2 // the current hour
	if !slices.Equal(got, want) {
		t.Fatalf("hourly units = %v\nwant %v", got, want)
	}

	ch := drawChart(got, now)
	if len(ch.Bars) != chartHours || ch.Total != 6 || ch.Max != 4 {
		t.Fatalf("chart: %d bars, total %d, max %d", len(ch.Bars), ch.Total, ch.Max)
	}
	if ch.Bars[18].H <= ch.Bars[23].H || ch.Bars[23].H <= ch.Bars[0].H || ch.Bars[1].H != 0 {
		t.Errorf("bar heights do not follow the counts: %d %d %d %d", ch.Bars[18].H, ch.Bars[23].H, ch.Bars[0].H, ch.Bars[1].H)
	}
	five := hour.Add(-5 * time.Hour)
	if b := ch.Bars[18]; b.Y+b.H != ch.Bottom || !strings.HasPrefix(b.Label, five.Format("15:04")+"–"+five.Add(time.Hour).Format("15:04")+" UTC: 3 requests") {
		t.Errorf("bar 18 = %+v", b)
	}
	if ch.Ticks[0].Label != hour.Add(-23*time.Hour).Format("15")+"h" || ch.Ticks[len(ch.Ticks)-1].Label != hour.Format("15")+"h" {
		t.Errorf("ticks = %+v", ch.Ticks)
	}
}

func TestNiceTop(t *testing.T) {
	for _, tc := range []struct{ max, want int }{{0, 4}, {4, 4}, {5, 8}, {9, 20}, {20, 20}, {21, 40}, {41, 80}, {500, 800}, {15500, 20000}} {
		if got := niceTop(tc.max); got != tc.want {
			t.Errorf("niceTop(%d) = %d, want %d", tc.max, got, tc.want)
		}
	}
}
