package connection_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/vtsim"
)

// TestRiskPolicyFlags stores a connection with the risk policy flags, reads the policy
// back from the list, runs with it (its options in risk_reason), overrides it for one
// run, and uses the same flags with a key that is not stored.
func TestRiskPolicyFlags(t *testing.T) {
	dir := setup(t)
	srv := httptest.NewServer(vtsim.MustNew(vtsim.Options{}))
	t.Cleanup(srv.Close)
	// A URL that 9 engines flag malicious (Medium by default), one of them BitDefender.
	const url = "http://185.220.101.4:8080/gate.php"

	r := vtsoar(t, dir, "k\n", "connection", "add", "soc", "--api-key-stdin", "--server-url", srv.URL, "--quota", "premium",
		"--suspicious-threshold", "2", "--preferred-vendors", "bitdefender, Kaspersky", "--crowdsourced")
	if r.code != 0 {
		t.Fatalf("add: exit %d: %s", r.code, r.errOut)
	}
	if !strings.Contains(r.errOut, "preferred vendors bitdefender, Kaspersky (High from 1)") {
		t.Errorf("add says %q", r.errOut)
	}
	out := vtsoar(t, dir, "", "connection", "list", "-o", "json")
	var vs []struct {
		RiskPolicy struct {
			Default struct {
				HighMalicious int `json:"high_malicious"`
				Suspicious    int `json:"suspicious"`
			} `json:"default"`
			PreferredVendors          []string       `json:"preferred_vendors"`
			PreferredVendorsThreshold int            `json:"preferred_vendors_threshold"`
			Crowdsourced              map[string]int `json:"crowdsourced"`
		} `json:"risk_policy"`
	}
	if err := json.Unmarshal([]byte(out.out), &vs); err != nil || len(vs) != 1 {
		t.Fatalf("list: %v %s", err, out.out)
	}
	p := vs[0].RiskPolicy
	if p.Default.HighMalicious != 10 || p.Default.Suspicious != 2 || strings.Join(p.PreferredVendors, ",") != "bitdefender,Kaspersky" ||
		p.PreferredVendorsThreshold != 1 || p.Crowdsourced["yara"] != 1 || p.Crowdsourced["sigma"] != 1 {
		t.Errorf("stored policy %+v", p)
	}

	reason := func(args ...string) (string, string) {
		t.Helper()
		r := vtsoar(t, dir, "", append(args, "-o", "json", "check-url-reputation", url)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.errOut)
		}
		var env struct {
			ContextData []struct {
				RiskLevel  string `json:"risk_level"`
				RiskReason string `json:"risk_reason"`
			} `json:"context_data"`
		}
		json.Unmarshal([]byte(r.out), &env)
		return env.ContextData[0].RiskLevel, env.ContextData[0].RiskReason
	}
	if level, why := reason("--connection", "soc"); level != "High" || !strings.HasPrefix(why, "preferred vendor BitDefender flags it malicious; High from 1 preferred vendor; 9 of") {
		t.Errorf("with the stored policy: %s, %q", level, why)
	}
	// A flag overrides the stored policy for one run.
	if level, why := reason("--connection", "soc", "--preferred-vendors", ""); level != "Medium" || strings.Contains(why, "preferred") {
		t.Errorf("preferred vendors cleared: %s, %q", level, why)
	}
	// The same flags with a key that is not stored.
	t.Setenv("VT_SERVER_URL", srv.URL)
	t.Setenv("VTSOAR_QUOTA", "premium")
	if level, why := reason("--api-key", "k", "--preferred-vendors", "BitDefender"); level != "High" || !strings.Contains(why, "BitDefender") {
		t.Errorf("with --api-key: %s, %q", level, why)
	}
	if level, _ := reason("--api-key", "k"); level != "Medium" {
		t.Errorf("default policy with --api-key: %s", level)
	}
	// A policy as JSON, from a file.
	pf := filepath.Join(dir, "policy.json")
	os.WriteFile(pf, []byte(`{"default": {"high_malicious": 30, "medium_malicious": 20, "medium_flagged": 30}}`), 0o600)
	if level, why := reason("--api-key", "k", "--risk-policy", "@"+pf); level != "Low" || !strings.Contains(why, "Low from 1") {
		t.Errorf("--risk-policy @file: %s %q", level, why)
	}
	// Bad policies are usage errors.
	for _, args := range [][]string{
		{"--api-key", "k", "--preferred-vendors", "A", "--preferred-vendors-threshold", "2"},
		{"--api-key", "k", "--suspicious-threshold", "-1"},
		{"--api-key", "k", "--risk-policy", `{"thresholds": 1}`},
	} {
		if r := vtsoar(t, dir, "", append(args, "check-url-reputation", url)...); r.code != 2 || !strings.Contains(r.errOut, "risk") {
			t.Errorf("%v: exit %d: %s", args, r.code, r.errOut)
		}
	}
}
