package storetest

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

func testHealthChecks(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "health", store.Options{})
	if _, ok, err := s.RecordHealthCheck(ctx, store.HealthCheck{}, nil); err == nil || ok {
		t.Fatal("RecordHealthCheck without a connection name succeeded")
	}
	checks := []store.HealthCheck{
		{Connection: "a", At: t0, Healthy: true, StatusCode: 200, Message: "ok", QuotaLeft: map[string]int64{"api_requests_daily": 499}},
		{Connection: "b", At: t0, Healthy: false, StatusCode: 401, Message: "wrong credentials"},
		{Connection: "a", At: t0.Add(time.Minute), Healthy: false, StatusCode: 0, Message: "no answer"},
	}
	for i, h := range checks {
		var hookPrev *bool
		prev, ok, err := s.RecordHealthCheck(ctx, h, func(_ context.Context, tx *sql.Tx, p store.HealthCheck, ok bool) error {
			if tx == nil {
				t.Error("RecordHealthCheck's hook got no transaction")
			}
			hookPrev = &ok
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if hookPrev == nil || *hookPrev != ok {
			t.Fatalf("check %d: hook saw previous = %v, RecordHealthCheck returned %v", i, hookPrev, ok)
		}
		wantPrev := i == 2
		if ok != wantPrev {
			t.Fatalf("check %d: previous found = %v, want %v", i, ok, wantPrev)
		}
		if wantPrev && (!prev.Healthy || prev.QuotaLeft["api_requests_daily"] != 499 || !prev.At.Equal(t0)) {
			t.Fatalf("check %d: previous = %+v", i, prev)
		}
	}
	// A failing hook rolls the check back.
	boom := errors.New("queue refused")
	if _, _, err := s.RecordHealthCheck(ctx, store.HealthCheck{Connection: "a", At: t0.Add(time.Hour)},
		func(context.Context, *sql.Tx, store.HealthCheck, bool) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("RecordHealthCheck with failing hook err = %v", err)
	}
	hist, err := s.HealthHistory(ctx, "a", 0)
	if err != nil || len(hist) != 2 || hist[0].Healthy || hist[0].Message != "no answer" || !hist[1].Healthy {
		t.Fatalf("HealthHistory(a) = %+v, %v", hist, err)
	}
	if hist, err := s.HealthHistory(ctx, "a", 1); err != nil || len(hist) != 1 {
		t.Fatalf("HealthHistory(a, 1) = %+v, %v", hist, err)
	}
	if hist, err := s.HealthHistory(ctx, "none", 0); err != nil || len(hist) != 0 {
		t.Fatalf("HealthHistory(none) = %+v, %v", hist, err)
	}
	last, err := s.LastHealthChecks(ctx)
	if err != nil || len(last) != 2 || last["a"].Healthy || last["b"].StatusCode != 401 {
		t.Fatalf("LastHealthChecks = %+v, %v", last, err)
	}
}
