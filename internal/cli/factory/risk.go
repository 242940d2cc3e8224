package factory

import (
	"reflect"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
)

// riskFlags are the global flags of the risk policy: they apply to a key given with
// --api-key, override the policy of a --connection for one run, and are stored with a
// connection by `connection add`.
type riskFlags struct {
	Suspicious                int
	PreferredVendors          string
	PreferredVendorsThreshold int
	Crowdsourced              bool
	PolicyJSON                string
}

// Names of the risk flags.
const (
	flagSuspicious       = "suspicious-threshold"
	flagPreferred        = "preferred-vendors"
	flagPreferredMinimum = "preferred-vendors-threshold"
	flagCrowdsourced     = "crowdsourced"
	flagRiskPolicy       = "risk-policy"
)

func (r *riskFlags) addFlags(fs *pflag.FlagSet) {
	fs.IntVar(&r.Suspicious, flagSuspicious, 0, "risk policy: engines saying suspicious from which an object is Medium (0: none)")
	fs.StringVar(&r.PreferredVendors, flagPreferred, "", "risk policy: engines (comma-separated, VirusTotal's names) whose malicious verdict alone makes High")
	fs.IntVar(&r.PreferredVendorsThreshold, flagPreferredMinimum, 1, "risk policy: how many preferred vendors must say malicious")
	fs.BoolVar(&r.Crowdsourced, flagCrowdsourced, false, "risk policy: crowdsourced YARA, Sigma (critical, high) and IDS (high) rule hits make a file at least Medium, named in the reason")
	fs.StringVar(&r.PolicyJSON, flagRiskPolicy, "", "risk policy as JSON, or @FILE (thresholds by kind and the options above; the other risk flags apply on top)")
}

// policy implements cmdutil.Factory.Policy.
func (e *env) policy(base risk.Policy) (risk.Policy, error) {
	changed := func(name string) bool {
		if e.fs == nil {
			return false
		}
		f := e.fs.Lookup(name)
		return f != nil && f.Changed
	}
	p := base
	if p.IsZero() {
		p = risk.DefaultPolicy()
	}
	r := e.risk
	if changed(flagRiskPolicy) {
		text := r.PolicyJSON
		if strings.HasPrefix(text, "@") {
			b, err := secret.ReadFileLimit(text[1:], secret.MaxUserFile)
			if err != nil {
				return risk.Policy{}, cmdutil.Usagef("--%s: %v", flagRiskPolicy, err)
			}
			text = string(b)
		}
		parsed, err := risk.ParsePolicy([]byte(text))
		if err != nil {
			return risk.Policy{}, cmdutil.Usagef("--%s: %v", flagRiskPolicy, err)
		}
		p = parsed
	}
	if changed(flagSuspicious) {
		p.Default.Suspicious = r.Suspicious
		for k, t := range p.ByKind {
			t.Suspicious = r.Suspicious
			p.ByKind[k] = t
		}
	}
	if changed(flagPreferred) {
		p.PreferredVendors = risk.ParseVendors(r.PreferredVendors)
		if len(p.PreferredVendors) == 0 {
			p.PreferredVendorsThreshold = 0
		}
	}
	if changed(flagPreferredMinimum) {
		p.PreferredVendorsThreshold = r.PreferredVendorsThreshold
	}
	if changed(flagCrowdsourced) {
		if !r.Crowdsourced {
			p.Crowdsourced = nil
		} else if p.Crowdsourced == nil {
			c := risk.DefaultCrowdsourced()
			p.Crowdsourced = &c
		}
	}
	if err := p.Validate(); err != nil {
		return risk.Policy{}, cmdutil.Usagef("%v (see --%s, --%s, --%s, --%s)", err, flagSuspicious, flagPreferred, flagPreferredMinimum, flagCrowdsourced)
	}
	if reflect.DeepEqual(p, risk.DefaultPolicy()) {
		return risk.Policy{}, nil
	}
	return p, nil
}
