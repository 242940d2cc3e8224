package secret

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxUserFile bounds what a file a user names may hold: a secret file (a file:
// reference, --api-key-file) or a policy given as @FILE.
const MaxUserFile = 64 << 10

// ErrNotReference is returned by Resolve for a string that is not a secret reference.
var ErrNotReference = errors.New("not a secret reference (want env:NAME or file:PATH)")

// IsReference reports whether s is a secret reference ("env:NAME" or "file:PATH").
func IsReference(s string) bool {
	return strings.HasPrefix(s, "env:") || strings.HasPrefix(s, "file:")
}

// Resolve returns the secret that ref names: "env:NAME" the value of the environment
// variable NAME (which must be set and not empty), "file:PATH" the content of the file
// at PATH without its trailing line break. Errors name the variable or file, never the
// secret.
func Resolve(ref string) (string, error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		if name == "" {
			return "", errors.New("secret reference env: names no variable")
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("secret reference env:%s: the variable is not set", name)
		}
		if strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("secret reference env:%s: the variable is empty", name)
		}
		return v, nil
	case strings.HasPrefix(ref, "file:"):
		path := strings.TrimPrefix(ref, "file:")
		if path == "" {
			return "", errors.New("secret reference file: names no file")
		}
		return ReadSecretFile(path)
	default:
		return "", ErrNotReference
	}
}

// ReadSecretFile returns the content of the file at path without its trailing line
// break ("\n" or "\r\n"). A file larger than MaxUserFile or an empty secret is an
// error.
func ReadSecretFile(path string) (string, error) {
	b, err := ReadFileLimit(path, MaxUserFile)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return s, nil
}

// ReadFileLimit returns the content of the file at path, which a user named, and an
// error naming the file when it holds more than limit bytes: it reads no more than
// limit+1 bytes, so that a device or a huge file (/dev/zero) costs no memory.
func ReadFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
