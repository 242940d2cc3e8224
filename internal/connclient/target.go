package connclient

import (
	"context"
	"fmt"

	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
)

// Target is what a connection's client runs against, resolved: a key on a server with
// a budget, through a proxy, judged by a risk policy. A stored connection (TargetOf)
// and a key given as such (the CLI's --api-key) are both one.
type Target struct {
	// Name is the stored connection's name, empty for a key given as such.
	Name string
	// APIKey is the key in clear: never shown, logged or sent but to its server.
	APIKey string
	// ServerURL is the server (empty: VirusTotal's).
	ServerURL string
	// Proxy is the proxy as it is used, its password in clear (empty: none).
	Proxy string
	// Spec is the budget.
	Spec quota.Spec
	// Policy derives risk levels (zero: risk.DefaultPolicy()).
	Policy risk.Policy
	// IncludePrivate sends private addresses and names to VirusTotal (the stored
	// connection's include_private).
	IncludePrivate bool

	// keyRef is the reference the key was resolved from, "" for a key stored or given
	// as such.
	keyRef string
}

// InactiveError is the error of an inactive connection (errors.Is
// store.ErrInactive).
type InactiveError struct{ Name string }

func (e *InactiveError) Error() string {
	return fmt.Sprintf("connection %s is inactive: nothing is sent on it until it is active again", e.Name)
}

// Unwrap returns store.ErrInactive.
func (e *InactiveError) Unwrap() error { return store.ErrInactive }

// TargetOf is the target of a stored connection: its key opened with c, or its key's
// reference opened and resolved by r (at each use: r keeps an answer for its TTL), its
// proxy's password opened, its budget (public when it has none). An inactive
// connection is an *InactiveError. Errors name the connection, never a secret.
func TargetOf(ctx context.Context, c *secret.Cipher, r *secret.Resolver, conn store.Connection) (Target, error) {
	if conn.Inactive {
		return Target{}, &InactiveError{Name: conn.Name}
	}
	key, ref, err := resolveKey(ctx, c, r, conn)
	if err != nil {
		return Target{}, err
	}
	proxy, err := OpenProxy(c, conn)
	if err != nil {
		return Target{}, err
	}
	specText := conn.Quota
	if specText == "" {
		specText = "public"
	}
	spec, err := quota.ParseSpec(specText)
	if err != nil {
		return Target{}, fmt.Errorf("connection %s: quota: %w", conn.Name, err)
	}
	return Target{Name: conn.Name, APIKey: key, ServerURL: conn.ServerURL, Proxy: proxy, Spec: spec, Policy: conn.RiskPolicy,
		IncludePrivate: conn.IncludePrivate, keyRef: ref}, nil
}

// resolveKey returns the API key of a stored connection: its sealed key opened, or its
// sealed reference opened and resolved (with the reference).
func resolveKey(ctx context.Context, c *secret.Cipher, r *secret.Resolver, conn store.Connection) (key, ref string, err error) {
	if len(conn.SealedAPIKeyRef) == 0 {
		key, err = OpenKey(c, conn)
		return key, "", err
	}
	if ref, err = OpenKeyRef(c, conn); err != nil {
		return "", "", err
	}
	if r == nil {
		r = &secret.Resolver{}
	}
	if key, err = r.Resolve(ctx, ref); err != nil {
		return "", "", fmt.Errorf("connection %s: its API key: %w", conn.Name, err)
	}
	if err := store.CheckAPIKey(key); err != nil {
		return "", "", fmt.Errorf("connection %s: the API key %s resolves to: %w", conn.Name, ref, err)
	}
	return key, ref, nil
}

// Budget returns the ledger name of the target's budget: two targets with one key on
// one server share it.
func (t Target) Budget() string { return quota.BudgetID(t.ServerURL, t.APIKey) }

// named says which stored connection err is about (none for a key given as such).
func (t Target) named(err error) error {
	if t.Name == "" {
		return err
	}
	return fmt.Errorf("connection %s: %w", t.Name, err)
}
