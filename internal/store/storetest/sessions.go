package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

// testSessions: a console session finds its user (as it is now) until it is idle for
// too long or too old, until sign-out, and until its user is removed or given a new
// token; another handle (a replica) shares the sessions.
func testSessions(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "sessions", store.Options{Now: clk.Now})
	other := open(t, "sessions", store.Options{Now: clk.Now})
	lim := store.SessionLimits{Idle: time.Hour, MaxAge: 4 * time.Hour}
	for _, u := range []store.User{
		{Name: "alice", Role: store.RoleAdmin, Sites: []string{store.AllSites}, TokenHash: []byte("ha")},
		{Name: "bob", Role: store.RoleAnalyst, Sites: []string{"paris"}, TokenHash: []byte("hb")},
	} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(id, why string) {
		t.Helper()
		if _, err := other.SessionUser(ctx, []byte(id), lim); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session %s %s: err = %v, want ErrNotFound", id, why, err)
		}
	}
	gone("none", "never made")
	if err := s.CreateSession(ctx, []byte("s-ghost"), "ghost", lim); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CreateSession(no such user) err = %v", err)
	}
	if err := s.CreateSession(ctx, []byte("s1"), "alice", store.SessionLimits{}); err == nil {
		t.Fatal("CreateSession without limits succeeded")
	}
	for id, user := range map[string]string{"s1": "alice", "s2": "alice", "s3": "bob", "s4": "bob"} {
		if err := s.CreateSession(ctx, []byte(id), user, lim); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSession(ctx, []byte("s1"), "bob", lim); err == nil {
		t.Fatal("a session id was taken twice")
	}
	u, err := other.SessionUser(ctx, []byte("s3"), lim)
	if err != nil || u.Name != "bob" || u.Role != store.RoleAnalyst || len(u.Sites) != 1 || u.Sites[0] != "paris" {
		t.Fatalf("SessionUser(s3) = %+v, %v; want bob", u, err)
	}

	// Idle: used within the idle time it lives on; left alone for it, it is over.
	for range 3 {
		clk.Advance(50 * time.Minute)
		if _, err := s.SessionUser(ctx, []byte("s1"), lim); err != nil {
			t.Fatalf("s1 used every 50 minutes: %v", err)
		}
	}
	gone("s2", "idle for 2h30")
	// Absolute: however often it is used, it ends at MaxAge.
	clk.Advance(50 * time.Minute) // 3h20 old
	if _, err := s.SessionUser(ctx, []byte("s1"), lim); err != nil {
		t.Fatalf("s1 at 3h20: %v", err)
	}
	clk.Advance(40 * time.Minute) // 4h old
	gone("s1", "4 hours old")

	// Sign-out ends one session; a new token or removal ends all of the user's.
	for id, user := range map[string]string{"s5": "bob", "s6": "bob", "s7": "alice"} {
		if err := s.CreateSession(ctx, []byte(id), user, lim); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteSession(ctx, []byte("s5")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, []byte("s5")); err != nil {
		t.Fatalf("second DeleteSession: %v", err)
	}
	gone("s5", "after sign-out")
	if _, err := other.SessionUser(ctx, []byte("s6"), lim); err != nil {
		t.Fatalf("s6 after another session's sign-out: %v", err)
	}
	if err := other.SetUserToken(ctx, "bob", []byte("hb2")); err != nil {
		t.Fatal(err)
	}
	gone("s6", "after bob's new token")
	gone("s3", "after bob's new token")
	if _, err := s.SessionUser(ctx, []byte("s7"), lim); err != nil {
		t.Fatalf("alice's session after bob's new token: %v", err)
	}
	if err := s.CreateSession(ctx, []byte("s8"), "bob", lim); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	gone("s8", "after bob's removal")
	// A user made again under the name does not inherit a session.
	if err := s.CreateUser(ctx, store.User{Name: "bob", Role: store.RoleAdmin, TokenHash: []byte("hb3")}); err != nil {
		t.Fatal(err)
	}
	gone("s8", "of the removed bob, once a new bob exists")
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	gone("s7", "after alice's removal")
}
