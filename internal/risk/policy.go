package risk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// Evidence is what VirusTotal says of one object, as a Policy weighs it.
type Evidence struct {
	// Found reports that VirusTotal knows the object.
	Found bool
	// Stats are the engines' counts (last_analysis_stats); nil when absent.
	Stats *vt.AnalysisStats
	// Reputation is the community score.
	Reputation int
	// Engines are the engines' verdicts by engine name (last_analysis_results).
	// Only a policy with preferred vendors needs them (NeedsEngines).
	Engines map[string]vt.EngineResult
	// Rules are the crowdsourced rules that matched (files only). Only a policy that
	// weighs them needs them (NeedsRules).
	Rules []RuleHit
}

// RuleKind is the kind of a crowdsourced detection rule.
type RuleKind string

// The crowdsourced rule kinds VirusTotal reports on files.
const (
	RuleYARA  RuleKind = "YARA"
	RuleSigma RuleKind = "Sigma"
	RuleIDS   RuleKind = "IDS"
)

// RuleHit is a crowdsourced rule that matched: a YARA rule
// (crowdsourced_yara_results), a Sigma rule (sigma_analysis_results) or an IDS
// alert (crowdsourced_ids_results).
type RuleHit struct {
	Kind RuleKind
	// Name is the rule's name (a YARA rule name, a Sigma rule title, an IDS
	// message).
	Name string
	// Severity is a Sigma rule's level (critical, high, medium, low) or an IDS
	// alert's severity (high, medium, low, info); empty for YARA.
	Severity string
	// Source is where the rule comes from (a ruleset name, a rule source).
	Source string
}

// Crowdsourced says how crowdsourced rule hits weigh: an object with at least YARA
// YARA matches, Sigma critical or high Sigma rules, or IDS high-severity IDS alerts is
// at least Medium. A zero number lists those hits in the reason without raising the
// level.
type Crowdsourced struct {
	YARA  int `json:"yara" yaml:"yara"`
	Sigma int `json:"sigma" yaml:"sigma"`
	IDS   int `json:"ids" yaml:"ids"`
}

// DefaultCrowdsourced raises to Medium from one hit of each kind.
func DefaultCrowdsourced() Crowdsourced { return Crowdsourced{YARA: 1, Sigma: 1, IDS: 1} }

// NeedsEngines reports whether the policy reads the engines' verdicts.
func (p Policy) NeedsEngines() bool { return len(p.PreferredVendors) > 0 }

// NeedsRules reports whether the policy reads crowdsourced rule hits.
func (p Policy) NeedsRules() bool { return p.Crowdsourced != nil }

// IsZero reports whether p is the zero Policy (which behaves as DefaultPolicy).
func (p Policy) IsZero() bool {
	return p.Default == (Thresholds{}) && len(p.ByKind) == 0 && len(p.PreferredVendors) == 0 &&
		p.PreferredVendorsThreshold == 0 && p.Crowdsourced == nil
}

// Normalized returns p with its defaults written out (the thresholds of a zero
// Policy, the preferred vendors' threshold), as it is shown and stored.
func (p Policy) Normalized() Policy {
	if p.Default == (Thresholds{}) {
		p.Default = DefaultThresholds()
	}
	if len(p.PreferredVendors) > 0 && p.PreferredVendorsThreshold == 0 {
		p.PreferredVendorsThreshold = 1
	}
	return p
}

// Verdict derives the verdict for an observable of the given kind: the thresholds'
// verdict on the counts, raised to High by preferred vendors and to at least Medium
// by crowdsourced rules as the policy says, with each option's finding in the reason.
func (p Policy) Verdict(kind ioc.Kind, e Evidence) Verdict {
	v := p.For(kind).Evaluate(e.Stats, e.Reputation, e.Found)
	if !e.Found || v.Level == NA {
		return v
	}
	var first, after []string // clauses that decided the level, and the others
	if len(p.PreferredVendors) > 0 {
		need := max(p.PreferredVendorsThreshold, 1)
		hits := p.preferredHits(e.Engines)
		switch {
		case len(hits) >= need && v.Level != High:
			v.Level = High
			first = append(first, fmt.Sprintf("preferred %s %s %s malicious; High from %d preferred vendor%s",
				plural(len(hits), "vendor", "vendors"), strings.Join(hits, ", "), plural(len(hits), "flags it", "flag it"), need, plural(need, "", "s")))
		case len(hits) > 0:
			after = append(after, fmt.Sprintf("preferred %s %s %s malicious", plural(len(hits), "vendor", "vendors"),
				strings.Join(hits, ", "), plural(len(hits), "flags it", "flag it")))
		default:
			after = append(after, fmt.Sprintf("no preferred vendor (%s) flags it malicious", strings.Join(p.PreferredVendors, ", ")))
		}
	}
	if c := p.Crowdsourced; c != nil && len(e.Rules) > 0 {
		clause, raises := c.weigh(e.Rules)
		if raises && v.Level > Medium {
			v.Level = Medium
			first = append(first, clause+"; Medium from crowdsourced rules")
		} else {
			after = append(after, clause)
		}
	}
	parts := append(append(first, v.Reason), after...)
	v.Reason = strings.Join(parts, "; ")
	return v
}

// preferredHits are the preferred vendors whose verdict is malicious, as
// VirusTotal names them.
func (p Policy) preferredHits(engines map[string]vt.EngineResult) []string {
	want := map[string]bool{}
	for _, v := range p.PreferredVendors {
		want[vendorKey(v)] = true
	}
	var out []string
	for name, r := range engines {
		if r.Category == "malicious" && want[vendorKey(name)] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// vendorKey compares engine names without case and punctuation ("ESET-NOD32" and
// "eset nod32").
func vendorKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// maxRuleNames bounds the names of each kind a reason lists.
const maxRuleNames = 3

// weigh describes the hits ("crowdsourced rules: YARA Emotet_1 (win.emotet); Sigma
// high "Suspicious Run Key"") and says whether they reach a threshold.
func (c Crowdsourced) weigh(rules []RuleHit) (string, bool) {
	byKind := map[RuleKind][]RuleHit{}
	for _, r := range rules {
		byKind[r.Kind] = append(byKind[r.Kind], r)
	}
	severe := func(rs []RuleHit, levels ...string) []RuleHit {
		var out []RuleHit
		for _, r := range rs {
			if slices.Contains(levels, strings.ToLower(r.Severity)) {
				out = append(out, r)
			}
		}
		return out
	}
	yara := byKind[RuleYARA]
	sigma := severe(byKind[RuleSigma], "critical", "high")
	ids := severe(byKind[RuleIDS], "high")
	raises := c.YARA > 0 && len(yara) >= c.YARA || c.Sigma > 0 && len(sigma) >= c.Sigma || c.IDS > 0 && len(ids) >= c.IDS
	var parts []string
	for _, k := range []RuleKind{RuleYARA, RuleSigma, RuleIDS} {
		rs := byKind[k]
		if len(rs) == 0 {
			continue
		}
		var names []string
		for i, r := range rs {
			if i == maxRuleNames {
				names = append(names, fmt.Sprintf("%d more", len(rs)-maxRuleNames))
				break
			}
			n := fmt.Sprintf("%q", r.Name)
			if r.Severity != "" {
				n = strings.ToLower(r.Severity) + " " + n
			}
			if r.Source != "" && k == RuleYARA {
				n += " (" + r.Source + ")"
			}
			names = append(names, n)
		}
		parts = append(parts, fmt.Sprintf("%d %s %s: %s", len(rs), k, plural(len(rs), "match", "matches"), strings.Join(names, ", ")))
	}
	return "crowdsourced rules: " + strings.Join(parts, "; "), raises
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (p Policy) validateOptions() error {
	for _, v := range p.PreferredVendors {
		if vendorKey(v) == "" {
			return fmt.Errorf("risk policy: preferred vendor %q has no letter or digit", v)
		}
	}
	if p.PreferredVendorsThreshold < 0 || len(p.PreferredVendors) > 0 && p.PreferredVendorsThreshold > len(p.PreferredVendors) {
		return fmt.Errorf("risk policy: preferred_vendors_threshold %d must be between 1 and the %d preferred vendors", p.PreferredVendorsThreshold, len(p.PreferredVendors))
	}
	if p.PreferredVendorsThreshold > 0 && len(p.PreferredVendors) == 0 {
		return fmt.Errorf("risk policy: preferred_vendors_threshold without preferred_vendors")
	}
	if c := p.Crowdsourced; c != nil && (c.YARA < 0 || c.Sigma < 0 || c.IDS < 0) {
		return fmt.Errorf("risk policy: crowdsourced thresholds must not be negative (yara %d, sigma %d, ids %d)", c.YARA, c.Sigma, c.IDS)
	}
	return nil
}

// cleanVendors trims the names, drops empty ones and repeats.
func cleanVendors(vs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range vs {
		v = strings.TrimSpace(v)
		if v == "" || seen[vendorKey(v)] {
			continue
		}
		seen[vendorKey(v)] = true
		out = append(out, v)
	}
	return out
}

// ParseVendors reads a comma-separated list of engine names.
func ParseVendors(s string) []string { return cleanVendors(strings.Split(s, ",")) }

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Summary describes the policy's options in a few words, for lists ("suspicious 3;
// preferred vendors Kaspersky, ESET-NOD32; crowdsourced rules"), or "default".
func (p Policy) Summary() string {
	if p.IsZero() {
		return "default"
	}
	n := p.Normalized()
	var parts []string
	plain := n.Default
	plain.Suspicious = 0
	if plain != DefaultThresholds() || len(n.ByKind) > 0 {
		parts = append(parts, fmt.Sprintf("High from %d, Medium from %d malicious", n.Default.HighMalicious, n.Default.MediumMalicious))
		if len(n.ByKind) > 0 {
			parts[len(parts)-1] += " (other thresholds by kind)"
		}
	}
	if n.Default.Suspicious > 0 {
		parts = append(parts, fmt.Sprintf("Medium from %d suspicious", n.Default.Suspicious))
	}
	if len(n.PreferredVendors) > 0 {
		parts = append(parts, fmt.Sprintf("preferred vendors %s (High from %d)", strings.Join(n.PreferredVendors, ", "), n.PreferredVendorsThreshold))
	}
	if c := n.Crowdsourced; c != nil {
		parts = append(parts, fmt.Sprintf("crowdsourced rules (YARA %d, Sigma %d, IDS %d)", c.YARA, c.Sigma, c.IDS))
	}
	if len(parts) == 0 {
		return "default"
	}
	return strings.Join(parts, "; ")
}
