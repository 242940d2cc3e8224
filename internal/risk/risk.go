// Package risk derives the risk level of an observable from VirusTotal's verdicts.
//
// A Policy holds thresholds, a default set and optional sets per observable kind.
// Evaluate returns a Verdict: the level and a reason that says which rule fired, with
// the numbers behind it ("45 of 72 engines flag it malicious; High from 10").
//
// The default policy, from last_analysis_stats (m malicious, s suspicious) and the
// community reputation r:
//
//   - N/A: not found, or never analysed (no stats, or all counts zero)
//   - High: m >= 10
//   - Medium: m >= 3, or m + s >= 5
//   - Low: m + s >= 1, or r < 0
//   - ZeroRisk: analysed, m = 0, s = 0, r >= 0
//
// A policy may add what users of other integrations ask for (policy.go): a suspicious
// threshold (s >= n is Medium), preferred vendors whose malicious verdict alone makes
// High, and crowdsourced YARA, Sigma and IDS rule hits as a reason (at least Medium
// from a number of hits), each stated in the verdict's reason.
package risk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// Level is a risk level. Its numeric value is the level's code in results
// (risk_level_code): a lower code is a higher risk.
type Level int

// The risk levels, with their codes.
const (
	High     Level = 1
	Medium   Level = 2
	Low      Level = 3
	NA       Level = 4
	ZeroRisk Level = 5
)

var levelNames = map[Level]string{
	High:     "High",
	Medium:   "Medium",
	Low:      "Low",
	NA:       "N/A",
	ZeroRisk: "ZeroRisk",
}

// String returns the level's name: "High", "Medium", "Low", "N/A" or "ZeroRisk".
func (l Level) String() string {
	if n, ok := levelNames[l]; ok {
		return n
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Code returns the level's numeric code (1 High ... 5 ZeroRisk).
func (l Level) Code() int { return int(l) }

// Valid reports whether l is one of the five levels.
func (l Level) Valid() bool {
	_, ok := levelNames[l]
	return ok
}

// ParseLevel parses a level name (case-insensitive; "NA" and "none" are accepted for
// N/A) or a code "1".."5".
func ParseLevel(s string) (Level, error) {
	t := strings.TrimSpace(s)
	for l, n := range levelNames {
		if strings.EqualFold(t, n) || t == fmt.Sprint(int(l)) {
			return l, nil
		}
	}
	switch strings.ToLower(t) {
	case "na", "none", "n-a":
		return NA, nil
	case "zero", "zero-risk", "zero_risk":
		return ZeroRisk, nil
	}
	return 0, fmt.Errorf("unknown risk level %q (want High, Medium, Low, N/A or ZeroRisk)", s)
}

// MarshalText encodes the level as its name.
func (l Level) MarshalText() ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("invalid risk level %d", int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText decodes a level name (see ParseLevel).
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Highest returns the highest risk among levels, that is the lowest code: High before
// Medium, Low, N/A and ZeroRisk. An event whose artifacts are all unknown is N/A, and
// one with a single unknown artifact among harmless ones is N/A too (nothing proves it
// harmless). With no level it returns N/A; invalid levels are ignored.
func Highest(levels ...Level) Level {
	best := NA
	seen := false
	for _, l := range levels {
		if !l.Valid() {
			continue
		}
		if !seen || l < best {
			best = l
			seen = true
		}
	}
	return best
}

// Thresholds are the numbers a Policy compares VirusTotal's counts with. Zero values
// disable nothing: use DefaultThresholds and change what you need.
type Thresholds struct {
	// HighMalicious: m >= HighMalicious is High.
	HighMalicious int `json:"high_malicious" yaml:"high_malicious"`
	// MediumMalicious: m >= MediumMalicious is Medium.
	MediumMalicious int `json:"medium_malicious" yaml:"medium_malicious"`
	// MediumFlagged: m + s >= MediumFlagged is Medium.
	MediumFlagged int `json:"medium_flagged" yaml:"medium_flagged"`
	// LowFlagged: m + s >= LowFlagged is Low.
	LowFlagged int `json:"low_flagged" yaml:"low_flagged"`
	// LowReputationBelow: a reputation below this is Low.
	LowReputationBelow int `json:"low_reputation_below" yaml:"low_reputation_below"`
	// Suspicious, when not 0: s >= Suspicious is Medium (engines that say
	// suspicious, whatever the malicious ones say).
	Suspicious int `json:"suspicious" yaml:"suspicious"`
}

// DefaultThresholds are the thresholds of the default policy.
func DefaultThresholds() Thresholds {
	return Thresholds{HighMalicious: 10, MediumMalicious: 3, MediumFlagged: 5, LowFlagged: 1, LowReputationBelow: 0}
}

// Validate reports thresholds that cannot order the levels: every count threshold must
// be at least 1, and High must not be reachable below Medium.
func (t Thresholds) Validate() error {
	if t.Suspicious < 0 {
		return fmt.Errorf("risk threshold suspicious must be 1 or more, or 0 for none (got %d)", t.Suspicious)
	}
	if t.HighMalicious < 1 || t.MediumMalicious < 1 || t.MediumFlagged < 1 || t.LowFlagged < 1 {
		return fmt.Errorf("risk thresholds must be at least 1 (high_malicious %d, medium_malicious %d, medium_flagged %d, low_flagged %d)",
			t.HighMalicious, t.MediumMalicious, t.MediumFlagged, t.LowFlagged)
	}
	if t.HighMalicious < t.MediumMalicious {
		return fmt.Errorf("risk threshold high_malicious (%d) is below medium_malicious (%d)", t.HighMalicious, t.MediumMalicious)
	}
	if t.MediumFlagged < t.LowFlagged {
		return fmt.Errorf("risk threshold medium_flagged (%d) is below low_flagged (%d)", t.MediumFlagged, t.LowFlagged)
	}
	return nil
}

// Verdict is the outcome of evaluating one observable.
type Verdict struct {
	Level  Level  `json:"level"`
	Reason string `json:"reason"`
}

// Evaluate derives a verdict from VirusTotal's last_analysis_stats (nil when absent),
// the community reputation and whether VirusTotal knows the object.
func (t Thresholds) Evaluate(stats *vt.AnalysisStats, reputation int, found bool) Verdict {
	if !found {
		return Verdict{NA, "not found on VirusTotal"}
	}
	if stats == nil || stats.Total() == 0 {
		return Verdict{NA, "never analysed: VirusTotal has no engine verdicts for it"}
	}
	m, s := stats.Malicious, stats.Suspicious
	// Engines that gave a verdict; type-unsupported, failures and timeouts are not
	// counted unless nothing else answered.
	n := stats.Harmless + stats.Malicious + stats.Suspicious + stats.Undetected
	if n == 0 {
		n = stats.Total()
	}
	switch {
	case m >= t.HighMalicious:
		return Verdict{High, fmt.Sprintf("%d of %d engines flag it malicious; High from %d", m, n, t.HighMalicious)}
	case m >= t.MediumMalicious:
		return Verdict{Medium, fmt.Sprintf("%d of %d engines flag it malicious; Medium from %d", m, n, t.MediumMalicious)}
	case t.Suspicious > 0 && s >= t.Suspicious:
		return Verdict{Medium, fmt.Sprintf("%d of %d engines flag it suspicious (and %d malicious); Medium from %d suspicious", s, n, m, t.Suspicious)}
	case m+s >= t.MediumFlagged:
		return Verdict{Medium, fmt.Sprintf("%d malicious and %d suspicious of %d engines; Medium from %d malicious or suspicious", m, s, n, t.MediumFlagged)}
	case m+s >= t.LowFlagged:
		return Verdict{Low, fmt.Sprintf("%d malicious and %d suspicious of %d engines; Low from %d malicious or suspicious", m, s, n, t.LowFlagged)}
	case reputation < t.LowReputationBelow:
		return Verdict{Low, fmt.Sprintf("no engine of %d flags it but its community reputation is %d; Low below %d", n, reputation, t.LowReputationBelow)}
	}
	return Verdict{ZeroRisk, fmt.Sprintf("%d malicious and %d suspicious of %d engines, community reputation %d", m, s, n, reputation)}
}

// Policy maps observable kinds to thresholds, with the options of policy.go.
type Policy struct {
	// Default applies to kinds without their own thresholds.
	Default Thresholds `json:"default" yaml:"default"`
	// ByKind overrides Default for some kinds ("file", "ip", "url", "domain").
	ByKind map[ioc.Kind]Thresholds `json:"by_kind,omitempty" yaml:"by_kind,omitempty"`
	// PreferredVendors are engines (VirusTotal's names, case and punctuation
	// ignored) whose malicious verdict makes High on its own.
	PreferredVendors []string `json:"preferred_vendors,omitempty" yaml:"preferred_vendors,omitempty"`
	// PreferredVendorsThreshold is how many of PreferredVendors must say malicious
	// (0: 1).
	PreferredVendorsThreshold int `json:"preferred_vendors_threshold,omitempty" yaml:"preferred_vendors_threshold,omitempty"`
	// Crowdsourced, when set, weighs the crowdsourced YARA, Sigma and IDS rules that
	// matched a file.
	Crowdsourced *Crowdsourced `json:"crowdsourced,omitempty" yaml:"crowdsourced,omitempty"`
}

// DefaultPolicy returns the default policy (DESIGN.md), the same for every kind.
func DefaultPolicy() Policy { return Policy{Default: DefaultThresholds()} }

// For returns the thresholds used for kind. A zero Policy behaves as DefaultPolicy.
func (p Policy) For(kind ioc.Kind) Thresholds {
	if t, ok := p.ByKind[kind]; ok {
		return t
	}
	if p.Default == (Thresholds{}) {
		return DefaultThresholds()
	}
	return p.Default
}

// Evaluate derives the verdict for an observable of the given kind from its counts
// alone (see Verdict for the options that need more).
func (p Policy) Evaluate(kind ioc.Kind, stats *vt.AnalysisStats, reputation int, found bool) Verdict {
	return p.Verdict(kind, Evidence{Found: found, Stats: stats, Reputation: reputation})
}

// Validate checks the default and every per-kind set of thresholds.
func (p Policy) Validate() error {
	if p.Default != (Thresholds{}) {
		if err := p.Default.Validate(); err != nil {
			return err
		}
	}
	for k, t := range p.ByKind {
		if !k.Valid() {
			return fmt.Errorf("risk policy: %w %q", ioc.ErrUnknownKind, k)
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return p.validateOptions()
}

// ParsePolicy decodes a policy from JSON; missing thresholds take the defaults, and
// a crowdsourced member its missing numbers from DefaultCrowdsourced. Unknown members
// are refused.
func ParsePolicy(b []byte) (Policy, error) {
	var raw struct {
		Default                   *json.RawMessage             `json:"default"`
		ByKind                    map[ioc.Kind]json.RawMessage `json:"by_kind"`
		PreferredVendors          []string                     `json:"preferred_vendors"`
		PreferredVendorsThreshold int                          `json:"preferred_vendors_threshold"`
		Crowdsourced              *json.RawMessage             `json:"crowdsourced"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Policy{}, fmt.Errorf("risk policy: %w", err)
	}
	p := DefaultPolicy()
	p.PreferredVendors, p.PreferredVendorsThreshold = cleanVendors(raw.PreferredVendors), raw.PreferredVendorsThreshold
	if raw.Crowdsourced != nil && string(*raw.Crowdsourced) != "null" {
		c := DefaultCrowdsourced()
		if err := strictUnmarshal(*raw.Crowdsourced, &c); err != nil {
			return Policy{}, fmt.Errorf("risk policy crowdsourced: %w", err)
		}
		p.Crowdsourced = &c
	}
	if raw.Default != nil {
		if err := strictUnmarshal(*raw.Default, &p.Default); err != nil {
			return Policy{}, fmt.Errorf("risk policy default: %w", err)
		}
	}
	for k, m := range raw.ByKind {
		t := p.Default
		if err := strictUnmarshal(m, &t); err != nil {
			return Policy{}, fmt.Errorf("risk policy %s: %w", k, err)
		}
		if p.ByKind == nil {
			p.ByKind = make(map[ioc.Kind]Thresholds)
		}
		p.ByKind[k] = t
	}
	return p, p.Validate()
}
