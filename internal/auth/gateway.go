package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

// Defaults and bounds of a gateway key's settings.
const (
	// DefaultGatewayMaxWait is how long a request waits for the budget by default.
	DefaultGatewayMaxWait = 90 * time.Second
	// DefaultGatewayMaxAge is the oldest cached answer served by default.
	DefaultGatewayMaxAge = 24 * time.Hour
	// MinGatewayMaxWait and MaxGatewayMaxWait bound the wait.
	MinGatewayMaxWait = time.Second
	MaxGatewayMaxWait = 24 * time.Hour
	// MaxGatewayMaxAge bounds the max age.
	MaxGatewayMaxAge = 365 * 24 * time.Hour
)

// GatewayKeyOptions are what a gateway key is made with.
type GatewayKeyOptions struct {
	// Name names the key (in the ledger, the metrics, the log).
	Name string
	// Connection is the stored connection it uses.
	Connection string
	// Priority is store.GatewayInteractive (default) or store.GatewayBatch.
	Priority string
	// MaxWait bounds the wait for the budget (0: DefaultGatewayMaxWait).
	MaxWait time.Duration
	// MaxAge is the oldest cached answer served (0: DefaultGatewayMaxAge); a client
	// asks for fresher with Cache-Control.
	MaxAge time.Duration
}

// NewGatewayKey returns a new gateway key and the hash the store keeps: 32 random
// bytes as 64 lower-case hex digits, the shape of a VirusTotal API key, so that a
// client that checks a key's form takes it.
func NewGatewayKey() (key string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	key = hex.EncodeToString(b[:])
	return key, HashToken(key)
}

// CreateGatewayKey checks o, stores a new gateway key and returns it (to be shown
// once) with what the store keeps. An existing name is store.ErrExists, a missing
// connection store.ErrNotFound; other errors say what is wrong with o.
func CreateGatewayKey(ctx context.Context, st store.GatewayKeys, o GatewayKeyOptions) (string, store.GatewayKey, error) {
	if err := store.CheckGatewayKeyName(o.Name); err != nil {
		return "", store.GatewayKey{}, err
	}
	if strings.TrimSpace(o.Connection) == "" {
		return "", store.GatewayKey{}, fmt.Errorf("gateway key %s: no connection", o.Name)
	}
	switch o.Priority {
	case "":
		o.Priority = store.GatewayInteractive
	case store.GatewayInteractive, store.GatewayBatch:
	default:
		return "", store.GatewayKey{}, fmt.Errorf("priority %q: want %s or %s", o.Priority, store.GatewayInteractive, store.GatewayBatch)
	}
	if o.MaxWait == 0 {
		o.MaxWait = DefaultGatewayMaxWait
	}
	if o.MaxWait < MinGatewayMaxWait || o.MaxWait > MaxGatewayMaxWait {
		return "", store.GatewayKey{}, fmt.Errorf("max wait %s: want %s to %s", o.MaxWait, MinGatewayMaxWait, MaxGatewayMaxWait)
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultGatewayMaxAge
	}
	if o.MaxAge < 0 || o.MaxAge > MaxGatewayMaxAge {
		return "", store.GatewayKey{}, fmt.Errorf("max age %s: want up to %s", o.MaxAge, MaxGatewayMaxAge)
	}
	key, hash := NewGatewayKey()
	k := store.GatewayKey{Name: o.Name, KeyHash: hash, Connection: o.Connection, Priority: o.Priority, MaxWait: o.MaxWait, MaxAge: o.MaxAge}
	if err := st.CreateGatewayKey(ctx, k); err != nil {
		return "", store.GatewayKey{}, err
	}
	return key, k, nil
}
