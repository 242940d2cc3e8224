package secret

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// KeyFileName is the name of the master key file created beside the database.
const KeyFileName = "master.key"

// KeyFilePath returns the path of the master key file beside the database file dbPath.
func KeyFilePath(dbPath string) string {
	return filepath.Join(filepath.Dir(dbPath), KeyFileName)
}

// LoadMaster returns the Cipher under the master key: from VTSOAR_MASTER_KEY when it is
// set, else from keyFile, which is created (mode 0600, in a directory created with
// mode 0700) holding a new random key when it does not exist. A key file that group or
// others may read or write is refused.
func LoadMaster(keyFile string) (*Cipher, error) {
	if v, ok := os.LookupEnv(EnvMasterKey); ok && v != "" {
		k, err := ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvMasterKey, err)
		}
		return NewCipher(k)
	}
	k, err := LoadOrCreateKeyFile(keyFile)
	if err != nil {
		return nil, err
	}
	return NewCipher(k)
}

// LoadOrCreateKeyFile reads the master key from path, creating the file with a new
// random key when it does not exist. Several processes may call it at once: exactly one
// key is created and all of them read it.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	k, err := readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := createKeyFile(path); err != nil {
		return nil, err
	}
	return readKeyFile(path)
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("master key file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %#o: it must be readable by its owner only (chmod 600 %s)", path, perm, path)
	}
	buf, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	k, err := ParseKey(string(buf))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}

// createKeyFile writes a new key to a temporary file and links it into place, so that
// a concurrent reader never sees a partial file and a concurrent creator loses the race
// cleanly (its link fails and it reads the winner's key).
func createKeyFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("master key directory: %w", err)
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".master.key-*")
	if err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("master key file: %w", err)
	}
	if _, err := tmp.WriteString(EncodeKey(k) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("master key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("master key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("master key file: %w", err)
	}
	return nil
}
