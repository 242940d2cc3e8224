package console

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/store"
)

// chartHours is the span of the quota chart.
const chartHours = 24

type quotaRow struct {
	Name    string
	Spec    string
	Windows []quota.WindowUsage
	// Requesters are who spent the budget this month (gateway keys, users, the
	// enrichment, health checks, the CLI).
	Requesters []quota.RequesterUsage
	// Waiting are who wait for a request of the budget now, in any process, and
	// since when.
	Waiting []quota.Waiting
	Held    time.Time
	Chart   *chart
	Error   string
}

func (c *Console) quota(w http.ResponseWriter, r *http.Request, s *session) error {
	// The API says which connections the user may see; only those are read.
	var list struct {
		Connections []store.ConnectionView `json:"connections"`
	}
	if err := c.call(r, s, "GET", "/api/v1/connections", nil, &list); err != nil {
		return err
	}
	now := c.cfg.Now()
	rows := []quotaRow{}
	for _, cn := range list.Connections {
		row := quotaRow{Name: cn.Name, Spec: cn.Quota}
		if err := c.quotaOf(r.Context(), cn.Name, now, &row); err != nil {
			c.log.WarnContext(r.Context(), "console: quota", "connection", cn.Name, "error", err)
			row.Error = "The quota of this connection could not be read; the error is in the service's log."
		}
		rows = append(rows, row)
	}
	c.render(w, r, http.StatusOK, "quota", &view{Title: "Quota", Session: s, Data: rows})
	return nil
}

func (c *Console) quotaOf(ctx context.Context, name string, now time.Time, row *quotaRow) error {
	sc, err := c.cfg.Store.GetConnection(ctx, name)
	if err != nil {
		return err
	}
	cc, err := c.cfg.Client(ctx, sc)
	if err != nil {
		return err
	}
	u, err := cc.Limiter.Usage(ctx)
	if err != nil {
		return err
	}
	row.Windows, row.Held, row.Requesters, row.Waiting = u.Windows, u.HeldUntil, u.Requesters, u.Waiting
	counts, err := hourlyUnits(ctx, c.cfg.Store, cc.Budget(), now)
	if err != nil {
		return err
	}
	row.Chart = drawChart(counts, now)
	return nil
}

// hourlyUnits returns the units the budget spent in each of the last chartHours
// clock hours, the current one last, from the ledger: one window per hour start,
// counted in one query, and the hours are the differences.
func hourlyUnits(ctx context.Context, l store.Ledger, budget string, now time.Time) ([]int, error) {
	start := now.UTC().Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
	windows := make([]store.Window, chartHours)
	for i := range windows {
		windows[i] = store.Window{Since: start.Add(time.Duration(i) * time.Hour)}
	}
	use, _, err := l.BudgetUsage(ctx, budget, now, windows)
	if err != nil {
		return nil, err
	}
	if len(use) != chartHours {
		return nil, fmt.Errorf("ledger answered %d windows, want %d", len(use), chartHours)
	}
	out := make([]int, chartHours)
	for i := range out {
		out[i] = use[i].Count
		if i+1 < chartHours {
			out[i] -= use[i+1].Count
		}
	}
	return out, nil
}

// chart is a bar chart of requests per hour, drawn as SVG by the template.
type chart struct {
	Width, Height int
	Bars          []bar
	// Max is the value of the top gridline; Total the sum of the bars.
	Max, Total int
	// Grid are the horizontal gridlines, Ticks the hour labels.
	Grid  []gridLine
	Ticks []tick
	// Left, Top, Bottom are the plot's margins (Bottom: the x axis's y).
	Left, Bottom int
}

type bar struct {
	X, Y, W, H int
	Count      int
	Label      string
}

type gridLine struct {
	Y     int
	Label string
}

type tick struct {
	X     int
	Label string
}

// drawChart lays out the bars of counts (one per hour, the last ending now).
func drawChart(counts []int, now time.Time) *chart {
	const (
		width, height = 720, 200
		left, right   = 40, 10
		top, bottom   = 10, 30
	)
	ch := &chart{Width: width, Height: height, Left: left, Bottom: height - bottom}
	max := 0
	for _, n := range counts {
		ch.Total += n
		if n > max {
			max = n
		}
	}
	top_ := niceTop(max)
	ch.Max = top_
	plotH := height - top - bottom
	plotW := width - left - right
	slot := plotW / len(counts)
	start := now.UTC().Truncate(time.Hour).Add(-time.Duration(len(counts)-1) * time.Hour)
	for i, n := range counts {
		h := n * plotH / top_
		if n > 0 && h < 1 {
			h = 1
		}
		at := start.Add(time.Duration(i) * time.Hour)
		b := bar{X: left + i*slot + 2, W: slot - 4, H: h, Y: height - bottom - h, Count: n,
			Label: fmt.Sprintf("%s–%s UTC: %d request%s", at.Format("15:04"), at.Add(time.Hour).Format("15:04"), n, plural(n))}
		ch.Bars = append(ch.Bars, b)
		if i%6 == 0 || i == len(counts)-1 {
			ch.Ticks = append(ch.Ticks, tick{X: left + i*slot + slot/2, Label: at.Format("15h")})
		}
	}
	for k := 0; k <= 4; k++ {
		v := top_ * k / 4
		ch.Grid = append(ch.Grid, gridLine{Y: height - bottom - plotH*k/4, Label: strconv.Itoa(v)})
	}
	return ch
}

// niceTop returns the top of the chart's scale: four gridline steps of 1, 2 or 5
// times a power of ten, at least max.
func niceTop(max int) int {
	for step := 1; ; step *= 10 {
		for _, m := range []int{1, 2, 5} {
			if t := 4 * m * step; t >= max {
				return t
			}
		}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
