package quota_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cli"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vtsim"
)

type result struct {
	code        int
	out, errOut string
}

func vtsoar(dir, stdin string, args ...string) result {
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	code := cli.Main(context.Background(), append([]string{"--db", filepath.Join(dir, "vtsoar.db")}, args...), ios)
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

type view struct {
	Connection string `json:"connection"`
	Quota      string `json:"quota"`
	Windows    []struct {
		Window string     `json:"window"`
		Limit  int        `json:"limit"`
		Used   int        `json:"used"`
		Left   int        `json:"left"`
		Resets *time.Time `json:"resets"`
	} `json:"windows"`
	Requesters []struct {
		Requester          string `json:"requester"`
		Minute, Day, Month int
	} `json:"requesters"`
}

// TestSpentDayFailsRemainingInputs: with a budget of 2 a day, the third input of a
// synchronous command fails with QuotaExceededError and the reset time, and quota
// shows the day spent.
func TestSpentDayFailsRemainingInputs(t *testing.T) {
	t.Setenv("VTSOAR_MASTER_KEY", "")
	t.Setenv("VTSOAR_QUOTA", "")
	dir := t.TempDir()
	sim, _ := vtsim.New(vtsim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	t.Setenv("VT_SERVER_URL", srv.URL)
	t.Setenv("VT_API_KEY", "quota-test-key")
	r := vtsoar(dir, "", "check-domain-reputation", "a.vtsoar.net", "b.vtsoar.net", "c.vtsoar.net", "--quota", "2/day",
		"--concurrency", "1", "-o", "json")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3 (partially successful)\n%s%s", r.code, r.out, r.errOut)
	}
	var env struct {
		Errors []struct {
			Input      string `json:"input"`
			StatusCode int    `json:"status_code"`
			Code       string `json:"code"`
			Message    string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.out), &env); err != nil {
		t.Fatal(err)
	}
	reset := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour).Format(time.RFC3339)
	if len(env.Errors) != 1 || env.Errors[0].StatusCode != 429 || env.Errors[0].Code != "QuotaExceededError" ||
		env.Errors[0].Message != "daily budget of 2 requests spent; resets at "+reset {
		t.Fatalf("errors = %+v", env.Errors)
	}
	if n := sim.Stats().Requests; n != 2 {
		t.Fatalf("%d requests sent on a budget of 2", n)
	}

	r = vtsoar(dir, "", "quota", "--quota", "2/day", "-o", "json")
	var vs []view
	if err := json.Unmarshal([]byte(r.out), &vs); err != nil || r.code != 0 || len(vs) != 1 {
		t.Fatalf("quota: exit %d %v\n%s%s", r.code, err, r.out, r.errOut)
	}
	w := vs[0].Windows
	if vs[0].Quota != "2/day" || len(w) != 3 || w[0].Window != "minute" || w[1].Window != "day" || w[2].Window != "month" {
		t.Fatalf("quota view = %+v", vs[0])
	}
	if w[1].Limit != 2 || w[1].Used != 2 || w[1].Left != 0 || w[1].Resets.UTC().Format(time.RFC3339) != reset {
		t.Fatalf("day window = %+v", w[1])
	}
	if w[0].Limit != 0 || w[0].Left != -1 || w[2].Used != 2 {
		t.Fatalf("minute/month windows = %+v", w)
	}
	if rq := vs[0].Requesters; len(rq) != 1 || rq[0].Requester != "cli" || rq[0].Day != 2 || rq[0].Month != 2 {
		t.Fatalf("requesters = %+v, want the CLI's 2 requests", rq)
	}
	table := vtsoar(dir, "", "quota", "--quota", "2/day", "-o", "table")
	if !strings.Contains(table.out, "WINDOW") || !strings.Contains(table.out, "day") {
		t.Fatalf("table:\n%s", table.out)
	}
	by := vtsoar(dir, "", "quota", "--quota", "2/day", "--by-requester", "-o", "csv")
	if want := "CONNECTION,SERVER,REQUESTER,MINUTE,DAY,MONTH,WAITING_SINCE\n-," + strings.ToLower(srv.URL) + ",cli,"; !strings.HasPrefix(by.out, want) ||
		!strings.HasSuffix(by.out, ",2,2,-\n") {
		t.Fatalf("--by-requester:\n%s\nwant %s...,2,2", by.out, want)
	}
}

func TestQuotaOfEveryConnection(t *testing.T) {
	t.Setenv("VTSOAR_MASTER_KEY", "")
	t.Setenv("VT_API_KEY", "")
	t.Setenv("VT_SERVER_URL", "")
	t.Setenv("VTSOAR_QUOTA", "")
	dir := t.TempDir()
	if r := vtsoar(dir, "", "quota"); r.code != 2 {
		t.Fatalf("quota with nothing to show: exit %d", r.code)
	}
	vtsoar(dir, "key-one", "connection", "add", "one", "--api-key-stdin")
	vtsoar(dir, "key-two", "connection", "add", "two", "--api-key-stdin", "--quota", "premium")
	r := vtsoar(dir, "", "quota", "-o", "json")
	var vs []view
	if err := json.Unmarshal([]byte(r.out), &vs); err != nil || len(vs) != 2 {
		t.Fatalf("quota: %v\n%s%s", err, r.out, r.errOut)
	}
	if vs[0].Connection != "one" || vs[0].Quota != "4/min,500/day,15500/month" || vs[1].Quota != "premium" || vs[1].Windows[1].Left != -1 {
		t.Fatalf("views = %+v", vs)
	}
	if r := vtsoar(dir, "", "quota", "--quota", "3/week"); r.code != 2 {
		t.Fatalf("bad --quota: exit %d", r.code)
	}
}

// TestQuotaShowsWhoWaits: a requester waiting for the budget in another process (its
// registration in the database) is shown with since when, in JSON, in the table and
// by requester.
func TestQuotaShowsWhoWaits(t *testing.T) {
	t.Setenv("VTSOAR_MASTER_KEY", "")
	dir := t.TempDir()
	vtsoar(dir, "key-one", "connection", "add", "one", "--api-key-stdin", "--server-url", "https://vt.example", "--quota", "public")
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "vtsoar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now().UTC().Truncate(time.Second).Add(-20 * time.Second)
	if err := st.PutWaiter(ctx, quota.BudgetID("https://vt.example", "key-one"), store.Waiter{ID: "run:r1", Priority: 0,
		Expires: time.Now().Add(time.Minute), Requester: "user:alice", Since: since}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	r := vtsoar(dir, "", "quota", "--connection", "one", "-o", "json")
	var vs []struct {
		Waiting []struct {
			Requester, Priority string
			Since               time.Time
		} `json:"waiting"`
	}
	if err := json.Unmarshal([]byte(r.out), &vs); err != nil || len(vs) != 1 || len(vs[0].Waiting) != 1 {
		t.Fatalf("quota: %v\n%s%s", err, r.out, r.errOut)
	}
	if w := vs[0].Waiting[0]; w.Requester != "user:alice" || w.Priority != "interactive" || !w.Since.Equal(since) {
		t.Fatalf("waiting = %+v", w)
	}
	stamp := since.Format(time.RFC3339)
	if table := vtsoar(dir, "", "quota", "--connection", "one", "-o", "table"); !strings.Contains(table.out, "user:alice since "+stamp) {
		t.Fatalf("table:\n%s", table.out)
	}
	if by := vtsoar(dir, "", "quota", "--connection", "one", "--by-requester", "-o", "csv"); !strings.Contains(by.out, ",user:alice,0,0,0,"+stamp+"\n") {
		t.Fatalf("by requester:\n%s", by.out)
	}
}
