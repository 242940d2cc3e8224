package storetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/vtsoar/vtsoar/internal/store"
)

func testUsers(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "users", store.Options{})
	if _, err := s.GetUser(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUser(missing) err = %v, want ErrNotFound", err)
	}
	if _, err := s.UserByTokenHash(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByTokenHash(missing) err = %v, want ErrNotFound", err)
	}
	alice := store.User{Name: "alice", Role: store.RoleAdmin, Sites: []string{store.AllSites}, TokenHash: []byte("hash-a")}
	bob := store.User{Name: "bob", Role: store.RoleAnalyst, Sites: []string{"paris", "lyon"}, TokenHash: []byte("hash-b")}
	for _, u := range []store.User{bob, alice} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.Name, err)
		}
	}
	if err := s.CreateUser(ctx, store.User{Name: "alice", Role: store.RoleAnalyst, TokenHash: []byte("other")}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateUser(same name) err = %v, want ErrExists", err)
	}
	if err := s.CreateUser(ctx, store.User{Name: "carol", Role: store.RoleAnalyst, TokenHash: []byte("hash-a")}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateUser(same token hash) err = %v, want ErrExists", err)
	}
	if err := s.CreateUser(ctx, store.User{Name: "dave", Role: "root", TokenHash: []byte("d")}); err == nil {
		t.Fatal("CreateUser with an unknown role succeeded")
	}
	if err := s.CreateUser(ctx, store.User{Name: "erin", Role: store.RoleAnalyst}); err == nil {
		t.Fatal("CreateUser without a token hash succeeded")
	}

	got, err := s.UserByTokenHash(ctx, []byte("hash-b"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "bob" || got.Role != store.RoleAnalyst || !reflect.DeepEqual(got.Sites, bob.Sites) || got.CreatedAt.IsZero() {
		t.Fatalf("UserByTokenHash = %+v, want bob with his sites", got)
	}
	list, err := s.ListUsers(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
		t.Fatalf("ListUsers = %+v, %v; want alice, bob", list, err)
	}

	if err := s.SetUserToken(ctx, "bob", []byte("hash-b2")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByTokenHash(ctx, []byte("hash-b")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old token still finds a user: %v", err)
	}
	if u, err := s.GetUser(ctx, "bob"); err != nil || !bytes.Equal(u.TokenHash, []byte("hash-b2")) {
		t.Fatalf("GetUser after SetUserToken = %+v, %v", u, err)
	}
	if err := s.SetUserToken(ctx, "nobody", []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetUserToken(missing) err = %v", err)
	}

	// A second handle (another process) sees the same users.
	s2 := open(t, "users", store.Options{})
	if err := s2.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted user still there: %v", err)
	}
	if err := s.DeleteUser(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteUser twice err = %v", err)
	}
}
