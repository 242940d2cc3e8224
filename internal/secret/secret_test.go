package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func mustKey(t *testing.T, b byte) []byte {
	t.Helper()
	return bytes.Repeat([]byte{b}, KeySize)
}

func TestSealOpenRoundTrip(t *testing.T) {
	c, err := NewCipher(mustKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	sealed, err := c.Seal(plain, []byte("conn-a"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed value contains the plaintext")
	}
	if sealed[0] != Version1 {
		t.Fatalf("version byte = %d", sealed[0])
	}
	id, err := SealedKeyID(sealed)
	if err != nil || id != c.KeyID() {
		t.Fatalf("SealedKeyID = %v, %v; want %v", id, err, c.KeyID())
	}
	got, err := c.Open(sealed, []byte("conn-a"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q", got)
	}
	again, _ := c.Seal(plain, []byte("conn-a"))
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are identical: nonce reused")
	}
}

func TestOpenDetectsTampering(t *testing.T) {
	c, _ := NewCipher(mustKey(t, 1))
	sealed, _ := c.Seal([]byte("secret"), []byte("conn-a"))
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := c.Open(bad, []byte("conn-a")); err == nil {
			t.Fatalf("flipping a bit of byte %d went unnoticed", i)
		}
	}
	if _, err := c.Open(sealed, []byte("conn-b")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("other associated data: err = %v, want ErrCorrupt", err)
	}
	if _, err := c.Open(sealed[:len(sealed)-1], []byte("conn-a")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated: err = %v, want ErrCorrupt", err)
	}
	if _, err := c.Open(sealed[:5], []byte("conn-a")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short: err = %v, want ErrCorrupt", err)
	}
}

func TestOpenWrongMasterKey(t *testing.T) {
	a, _ := NewCipher(mustKey(t, 1))
	b, _ := NewCipher(mustKey(t, 2))
	sealed, _ := a.Seal([]byte("plain-api-key"), nil)
	got, err := b.Open(sealed, nil)
	if !errors.Is(err, ErrWrongKey) || got != nil {
		t.Fatalf("Open = %q, %v; want ErrWrongKey", got, err)
	}
	if !strings.Contains(err.Error(), a.KeyID().String()) {
		t.Errorf("error does not name the key id the value was sealed under: %v", err)
	}
}

func TestRotationOpensOldKeys(t *testing.T) {
	old, _ := NewCipher(mustKey(t, 1))
	sealed, _ := old.Seal([]byte("secret"), nil)
	rotated, err := NewCipher(mustKey(t, 2), mustKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	got, err := rotated.Open(sealed, nil)
	if err != nil || string(got) != "secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	resealed, _ := rotated.Seal(got, nil)
	if id, _ := SealedKeyID(resealed); id == old.KeyID() {
		t.Fatal("rotated cipher seals under the old key")
	}
}

func TestNewCipherKeySize(t *testing.T) {
	if _, err := NewCipher(make([]byte, 16)); err == nil {
		t.Fatal("16-byte key accepted")
	}
}

func TestParseKey(t *testing.T) {
	k := mustKey(t, 7)
	k[0] = 0xfb // makes std and URL base64 differ
	for _, s := range []string{
		hex.EncodeToString(k),
		strings.ToUpper(hex.EncodeToString(k)),
		base64.StdEncoding.EncodeToString(k),
		base64.RawStdEncoding.EncodeToString(k),
		base64.URLEncoding.EncodeToString(k),
		base64.RawURLEncoding.EncodeToString(k),
		"  " + hex.EncodeToString(k) + "\n",
	} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "abc", hex.EncodeToString(k[:16]), base64.StdEncoding.EncodeToString(k[:31])} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		} else if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error repeats the key: %v", err)
		}
	}
}

func TestLoadMasterFromEnv(t *testing.T) {
	k := mustKey(t, 9)
	t.Setenv(EnvMasterKey, hex.EncodeToString(k))
	keyFile := filepath.Join(t.TempDir(), KeyFileName)
	c, err := LoadMaster(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := NewCipher(k)
	if c.KeyID() != want.KeyID() {
		t.Fatal("LoadMaster ignored VTSOAR_MASTER_KEY")
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a key file was created although the environment holds the key")
	}
	t.Setenv(EnvMasterKey, "not-a-key")
	if _, err := LoadMaster(keyFile); err == nil || !strings.Contains(err.Error(), EnvMasterKey) {
		t.Fatalf("bad env key: err = %v", err)
	}
}

func TestKeyFileCreatedOnceWithMode0600(t *testing.T) {
	t.Setenv(EnvMasterKey, "")
	dir := filepath.Join(t.TempDir(), "data")
	path := KeyFilePath(filepath.Join(dir, "vtsoar.db"))
	if filepath.Dir(path) != dir {
		t.Fatalf("KeyFilePath = %s, want beside the database", path)
	}
	// Several creators at once agree on one key.
	var wg sync.WaitGroup
	ids := make([]KeyID, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := LoadMaster(path)
			errs[i] = err
			if err == nil {
				ids[i] = c.KeyID()
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatal("concurrent creators ended with different keys")
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("key file mode = %#o, want 0600", perm)
	}
	// A value sealed now opens after a reload.
	c1, _ := LoadMaster(path)
	sealed, _ := c1.Seal([]byte("k"), nil)
	c2, err := LoadMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Open(sealed, nil); err != nil {
		t.Fatalf("reloaded key cannot open: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d files, want only the key file", len(entries))
	}
}

func TestKeyFileLoosePermissionsRefused(t *testing.T) {
	t.Setenv(EnvMasterKey, "")
	path := filepath.Join(t.TempDir(), KeyFileName)
	if _, err := LoadMaster(path); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadMaster(path)
		if err == nil {
			t.Fatalf("mode %#o accepted", mode)
		}
		if !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %#o: error does not say how to fix it: %v", mode, err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := LoadMaster(path); err != nil {
		t.Fatalf("mode 0400 refused: %v", err)
	}
}

func TestKeyFileGarbage(t *testing.T) {
	t.Setenv(EnvMasterKey, "")
	path := filepath.Join(t.TempDir(), KeyFileName)
	os.WriteFile(path, []byte("hello\n"), 0o600)
	if _, err := LoadMaster(path); err == nil {
		t.Fatal("garbage key file accepted")
	}
}

func TestResolve(t *testing.T) {
	t.Setenv("VTSOAR_TEST_KEY", "key-from-env")
	t.Setenv("VTSOAR_TEST_EMPTY", "")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lf := write("lf", "key-from-file\n")
	crlf := write("crlf", "key-from-file\r\n")
	bare := write("bare", "key-from-file")
	empty := write("empty", "\n")
	for _, tc := range []struct {
		ref, want string
		wantErr   bool
	}{
		{"env:VTSOAR_TEST_KEY", "key-from-env", false},
		{"env:VTSOAR_TEST_UNSET_XYZ", "", true},
		{"env:VTSOAR_TEST_EMPTY", "", true},
		{"env:", "", true},
		{"file:" + lf, "key-from-file", false},
		{"file:" + crlf, "key-from-file", false},
		{"file:" + bare, "key-from-file", false},
		{"file:" + empty, "", true},
		{"file:" + filepath.Join(dir, "missing"), "", true},
		{"file:", "", true},
		{"0123abcd", "", true},
	} {
		got, err := Resolve(tc.ref)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v", tc.ref, got, err)
		}
	}
	if _, err := Resolve("plain"); !errors.Is(err, ErrNotReference) {
		t.Errorf("Resolve(plain) err = %v, want ErrNotReference", err)
	}
	if !IsReference("env:X") || !IsReference("file:/x") || IsReference("abc") {
		t.Error("IsReference misclassifies")
	}
}
