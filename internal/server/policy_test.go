package server_test

import (
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/command"
)

// gateURL is a URL that 9 of the emulator's engines flag malicious (Medium by
// default), BitDefender among them, and 0 suspicious.
const gateURL = "http://185.220.101.4:8080/gate.php"

func TestConnectionRiskPolicy(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.do(t, "POST", "/api/v1/connections", "admin", map[string]any{
		"name": "soc", "api_key": apiKey, "server_url": e.simURL, "quota": "premium",
		"risk_policy": map[string]any{"preferred_vendors": []string{"bitdefender"}, "default": map[string]any{"suspicious": 2},
			"crowdsourced": map[string]any{}},
	})
	if r.status != 201 {
		t.Fatalf("create %d: %s", r.status, r.body)
	}
	var c struct {
		RiskPolicy struct {
			Default                   map[string]int `json:"default"`
			PreferredVendors          []string       `json:"preferred_vendors"`
			PreferredVendorsThreshold int            `json:"preferred_vendors_threshold"`
			Crowdsourced              map[string]int `json:"crowdsourced"`
		} `json:"risk_policy"`
	}
	r.json(t, &c)
	p := c.RiskPolicy
	if p.Default["suspicious"] != 2 || p.Default["high_malicious"] != 10 || p.PreferredVendorsThreshold != 1 || p.Crowdsourced["yara"] != 1 {
		t.Errorf("stored policy %+v", p)
	}
	level := func() (string, string) {
		t.Helper()
		r := e.do(t, "POST", "/api/v1/commands/check-url-reputation", "admin", map[string]any{"connection": "soc", "inputs": []string{gateURL}})
		var env command.Envelope
		r.json(t, &env)
		return env.ContextData[0].RiskLevel, env.ContextData[0].RiskReason
	}
	if l, why := level(); l != "High" || !strings.HasPrefix(why, "preferred vendor BitDefender flags it malicious; High from 1 preferred vendor") {
		t.Errorf("with the policy: %s %q", l, why)
	}
	// The policy changes with the connection, and the answer comes from the cache.
	before := e.sim.Stats().Requests
	if r := e.do(t, "PATCH", "/api/v1/connections/soc", "admin", map[string]any{"risk_policy": nil}); r.status != 200 {
		t.Fatalf("patch %d: %s", r.status, r.body)
	}
	if l, why := level(); l != "Medium" || why != "9 of 89 engines flag it malicious; Medium from 3" {
		t.Errorf("default policy: %s %q", l, why)
	}
	if n := e.sim.Stats().Requests; n != before {
		t.Errorf("%d requests to re-judge a cached answer", n-before)
	}
	r = e.do(t, "GET", "/api/v1/connections/soc", "admin", nil)
	c.RiskPolicy.PreferredVendors, c.RiskPolicy.Crowdsourced = nil, nil
	r.json(t, &c)
	if len(c.RiskPolicy.PreferredVendors) != 0 || c.RiskPolicy.Crowdsourced != nil || c.RiskPolicy.Default["high_malicious"] != 10 {
		t.Errorf("after null: %+v", c.RiskPolicy)
	}
	for _, bad := range []any{
		map[string]any{"preferred_vendors": []string{"A"}, "preferred_vendors_threshold": 3},
		map[string]any{"default": map[string]any{"suspicious": -2}},
		map[string]any{"unknown": 1},
		"High",
	} {
		r := e.do(t, "PATCH", "/api/v1/connections/soc", "admin", map[string]any{"risk_policy": bad})
		if r.status != 400 {
			t.Errorf("risk_policy %v: %d %s", bad, r.status, r.body)
		}
	}
}
