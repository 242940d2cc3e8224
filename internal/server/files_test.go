package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type fileJSON struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Name   string `json:"name"`
	Source string `json:"source"`
	Site   string `json:"site"`
}

func TestFileUploadAndGet(t *testing.T) {
	e := newEnv(t, envOpts{})
	content := []byte("some incident attachment\x00\x01\x02")
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])

	r := e.upload(t, "paris", `C:\Users\x\evil.exe`, content, map[string]string{"source": "incident"})
	if r.status != http.StatusCreated {
		t.Fatalf("upload = %d %s", r.status, r.body)
	}
	var f fileJSON
	r.json(t, &f)
	if f.ID == "" || f.SHA256 != want || f.Size != int64(len(content)) || f.Source != "incident" || f.Site != "paris" || f.Name != "evil.exe" {
		t.Fatalf("uploaded file = %+v, want sha256 %s, size %d, site paris, name evil.exe", f, want, len(content))
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/files/"+f.ID {
		t.Fatalf("Location = %q", loc)
	}

	// Stored content-addressed: the same bytes again are one file on disk, two ids.
	r = e.upload(t, "paris", "again.bin", content, map[string]string{"source": "artifact"})
	var f2 fileJSON
	r.json(t, &f2)
	if r.status != 201 || f2.ID == f.ID || f2.SHA256 != want || f2.Source != "artifact" {
		t.Fatalf("second upload = %d %+v", r.status, f2)
	}
	var stored []string
	filepath.WalkDir(e.dataDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(p) == want {
			stored = append(stored, p)
		}
		return nil
	})
	if len(stored) != 1 {
		t.Fatalf("content stored %d times (%v), want once under its sha256", len(stored), stored)
	}
	if b, err := os.ReadFile(stored[0]); err != nil || !bytes.Equal(b, content) {
		t.Fatalf("stored content differs: %v", err)
	}

	// GET answers the record to the uploader's site and to admins, 404 to other sites.
	for _, user := range []string{"paris", "both", "admin"} {
		var got fileJSON
		r := e.do(t, "GET", "/api/v1/files/"+f.ID, user, nil)
		r.json(t, &got)
		if r.status != 200 || got != f {
			t.Fatalf("GET as %s = %d %+v, want %+v", user, r.status, got, f)
		}
	}
	other := e.do(t, "GET", "/api/v1/files/"+f.ID, "lyon", nil).problem(t, 404)
	missing := e.do(t, "GET", "/api/v1/files/f_nope", "lyon", nil).problem(t, 404)
	if strings.Replace(other.Detail, f.ID, "X", 1) != strings.Replace(missing.Detail, "f_nope", "X", 1) {
		t.Fatalf("another site's file answers differently from a missing one: %q vs %q", other.Detail, missing.Detail)
	}
	e.do(t, "GET", "/api/v1/files/"+f.ID, "", nil).problem(t, 401)

	// A site is chosen as for events: a user of several sites names one he belongs to.
	r = e.upload(t, "both", "x", []byte("x"), map[string]string{"source": "playbook", "site": "lyon"})
	r.json(t, &f2)
	if r.status != 201 || f2.Site != "lyon" {
		t.Fatalf("upload to lyon by both = %d %s", r.status, r.body)
	}
	e.upload(t, "paris", "x", []byte("x"), map[string]string{"source": "playbook", "site": "lyon"}).problem(t, 403)
	e.upload(t, "both", "x", []byte("x"), map[string]string{"source": "playbook"}).problem(t, 400)
}

func TestFileUploadErrors(t *testing.T) {
	const limit = 1024
	e := newEnv(t, envOpts{maxFileSize: limit})
	for _, tc := range []struct {
		name    string
		user    string
		content []byte
		fields  map[string]string
		status  int
		detail  string
	}{
		{"no token", "", []byte("x"), map[string]string{"source": "incident"}, 401, "bearer token"},
		{"bad source", "paris", []byte("x"), map[string]string{"source": "email"}, 400, `source "email"`},
		{"no source", "paris", []byte("x"), nil, 400, "source"},
		{"no file", "paris", nil, map[string]string{"source": "incident"}, 400, `no "file"`},
		{"unknown field", "paris", []byte("x"), map[string]string{"source": "incident", "path": "/etc/passwd"}, 400, "unknown form field"},
		{"too large", "paris", bytes.Repeat([]byte("A"), limit+1), map[string]string{"source": "incident"}, 413, "1024"},
		{"wrong site", "lyon", []byte("x"), map[string]string{"source": "incident", "site": "paris"}, 403, "paris"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.upload(t, tc.user, "f.bin", tc.content, tc.fields).problem(t, tc.status)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("detail %q, want %q", p.Detail, tc.detail)
			}
		})
	}
	// Exactly the limit is accepted.
	if r := e.upload(t, "paris", "f.bin", bytes.Repeat([]byte("B"), limit), map[string]string{"source": "incident"}); r.status != 201 {
		t.Fatalf("a file of exactly the limit = %d %s", r.status, r.body)
	}
	// Not multipart: 415.
	e.do(t, "POST", "/api/v1/files", "paris", `{"file":"x","source":"incident"}`).problem(t, 415)
	// Nothing of the refused uploads was recorded or left on disk.
	var names []string
	filepath.WalkDir(filepath.Join(e.dataDir, "files"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, filepath.Base(p))
		}
		return nil
	})
	sum := sha256.Sum256(bytes.Repeat([]byte("B"), limit))
	if len(names) != 1 || names[0] != hex.EncodeToString(sum[:]) {
		t.Fatalf("files on disk = %v, want only the accepted one", names)
	}
}
