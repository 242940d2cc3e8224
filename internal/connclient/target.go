package connclient

import (
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
}

// TargetOf is the target of a stored connection: its key and its proxy's password
// opened with c, its budget (public when it has none). Errors name the connection,
// never a secret.
func TargetOf(c *secret.Cipher, conn store.Connection) (Target, error) {
	key, err := OpenKey(c, conn)
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
	return Target{Name: conn.Name, APIKey: key, ServerURL: conn.ServerURL, Proxy: proxy, Spec: spec, Policy: conn.RiskPolicy}, nil
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
