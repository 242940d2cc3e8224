package store

import (
	"time"

	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
)

// ConnectionView is a connection as people and API clients see it: never its key (only
// whether one is set) and a proxy's password masked. The REST API, the console and
// `vtsoar connection list` all show this.
type ConnectionView struct {
	Name               string   `json:"name"`
	APIKeySet          bool     `json:"api_key_set"`
	ServerURL          string   `json:"server_url"`
	Quota              string   `json:"quota"`
	Proxy              string   `json:"proxy"`
	ReputationChecks   []string `json:"reputation_checks"`
	HealthCheckMinutes int      `json:"health_check_minutes"`
	Sites              []string `json:"sites"`
	Users              []string `json:"users"`
	// RiskPolicy is the connection's risk policy with its defaults written out.
	RiskPolicy risk.Policy `json:"risk_policy"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

// View returns the connection as shown: the server URL as used (the default when none
// was given), lists never nil so that JSON shows [].
func (c Connection) View() ConnectionView {
	v := ConnectionView{
		Name: c.Name, APIKeySet: len(c.SealedAPIKey) > 0, ServerURL: NormalizeServerURL(c.ServerURL), Quota: c.Quota,
		Proxy: secret.RedactURL(c.Proxy), HealthCheckMinutes: c.HealthCheckMinutes,
		ReputationChecks: make([]string, 0, len(c.ReputationChecks)),
		Sites:            append([]string{}, c.Sites...), Users: append([]string{}, c.Users...),
		RiskPolicy: c.RiskPolicy.Normalized(), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	for _, k := range c.ReputationChecks {
		v.ReputationChecks = append(v.ReputationChecks, string(k))
	}
	return v
}
