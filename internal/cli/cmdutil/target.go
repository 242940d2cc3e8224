package cmdutil

import (
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/risk"
)

// Target is what a command runs against: a key on a server with a budget
// (Factory.Resolve).
type Target struct {
	// Connection is the stored connection's name, empty for --api-key.
	Connection string
	APIKey     string
	ServerURL  string // empty: VirusTotal's
	Proxy      string
	Spec       quota.Spec
	// Policy is the stored connection's risk policy (zero for --api-key).
	Policy risk.Policy
}

// Budget returns the ledger name of the target's budget.
func (t Target) Budget() string { return quota.BudgetID(t.ServerURL, t.APIKey) }
