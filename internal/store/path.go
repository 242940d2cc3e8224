package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPath returns the default database file: $XDG_DATA_HOME/vtsoar/vtsoar.db, or
// ~/.local/share/vtsoar/vtsoar.db when XDG_DATA_HOME is unset or not absolute.
func DefaultPath() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "vtsoar", "vtsoar.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", errors.New("no database path: set --db or VTSOAR_DB (neither XDG_DATA_HOME nor a home directory is known)")
	}
	return filepath.Join(home, ".local", "share", "vtsoar", "vtsoar.db"), nil
}

// IsPostgres reports whether dsn selects PostgreSQL (a postgres:// or postgresql:// URL).
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
