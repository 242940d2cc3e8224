package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/vtsoar/vtsoar/internal/store"
)

func testFiles(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "files", store.Options{})
	sum := "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	f := store.StoredFile{ID: "f1", SHA256: sum, Size: 68, Name: "eicar.com", Source: store.FileSourceIncident, Site: "paris", Uploader: "bob"}
	if err := s.CreateFile(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFile(ctx, f); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateFile(same id) err = %v, want ErrExists", err)
	}
	bad := f
	bad.ID, bad.Source = "f2", "email"
	if err := s.CreateFile(ctx, bad); err == nil {
		t.Fatal("CreateFile with an unknown source succeeded")
	}
	same := f
	same.ID, same.Source = "f3", store.FileSourceArtifact
	if err := s.CreateFile(ctx, same); err != nil {
		t.Fatalf("a second record of the same content: %v", err)
	}
	got, err := s.GetFile(ctx, "f1")
	if err != nil {
		t.Fatal(err)
	}
	got.CreatedAt = got.CreatedAt.Round(0)
	if got.CreatedAt.IsZero() {
		t.Fatal("CreatedAt not set")
	}
	got.CreatedAt = f.CreatedAt
	if got != f {
		t.Fatalf("GetFile = %+v, want %+v", got, f)
	}
	if _, err := s.GetFile(ctx, "f2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetFile(missing) err = %v", err)
	}
}
