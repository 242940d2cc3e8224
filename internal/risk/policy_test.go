package risk

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

func engines(verdicts map[string]string) map[string]vt.EngineResult {
	out := map[string]vt.EngineResult{}
	for name, cat := range verdicts {
		out[name] = vt.EngineResult{EngineName: name, Category: cat}
	}
	return out
}

func TestSuspiciousThreshold(t *testing.T) {
	p := DefaultPolicy()
	stats := &vt.AnalysisStats{Malicious: 0, Suspicious: 2, Undetected: 60}
	if v := p.Evaluate(ioc.KindIP, stats, 0, true); v.Level != Low {
		t.Fatalf("default: %v", v)
	}
	p.Default.Suspicious = 2
	v := p.Evaluate(ioc.KindIP, stats, 0, true)
	if v.Level != Medium || v.Reason != "2 of 62 engines flag it suspicious (and 0 malicious); Medium from 2 suspicious" {
		t.Fatalf("suspicious 2: %+v", v)
	}
	// Malicious rules still come first.
	if v := p.Evaluate(ioc.KindIP, &vt.AnalysisStats{Malicious: 12, Suspicious: 3}, 0, true); v.Level != High {
		t.Errorf("12 malicious: %v", v)
	}
	p.Default.Suspicious = -1
	if err := p.Validate(); err == nil {
		t.Error("a negative suspicious threshold is valid")
	}
}

func TestPreferredVendors(t *testing.T) {
	p := DefaultPolicy()
	p.PreferredVendors = []string{"Kaspersky", "eset nod32"}
	e := Evidence{Found: true, Stats: &vt.AnalysisStats{Malicious: 2, Undetected: 70},
		Engines: engines(map[string]string{"ESET-NOD32": "malicious", "Kaspersky": "undetected", "Avast": "malicious"})}
	v := p.Verdict(ioc.KindFile, e)
	if v.Level != High || !strings.HasPrefix(v.Reason, "preferred vendor ESET-NOD32 flags it malicious; High from 1 preferred vendor; 2 malicious and 0 suspicious of 72 engines; Low from 1") {
		t.Fatalf("one preferred vendor: %+v", v)
	}
	p.PreferredVendorsThreshold = 2
	v = p.Verdict(ioc.KindFile, e)
	if v.Level != Low || !strings.HasSuffix(v.Reason, "; preferred vendor ESET-NOD32 flags it malicious") {
		t.Fatalf("two needed, one says so: %+v", v)
	}
	e.Engines["Kaspersky"] = vt.EngineResult{Category: "malicious"}
	if v = p.Verdict(ioc.KindFile, e); v.Level != High || !strings.Contains(v.Reason, "preferred vendors ESET-NOD32, Kaspersky flag it malicious; High from 2 preferred vendors") {
		t.Fatalf("two of two: %+v", v)
	}
	e.Engines = engines(map[string]string{"Avast": "malicious"})
	if v = p.Verdict(ioc.KindFile, e); v.Level != Low || !strings.Contains(v.Reason, "no preferred vendor (Kaspersky, eset nod32) flags it malicious") {
		t.Fatalf("none: %+v", v)
	}
	// Not found stays N/A, whatever the vendors.
	if v = p.Verdict(ioc.KindFile, Evidence{}); v.Level != NA {
		t.Errorf("not found: %v", v)
	}
	for _, bad := range []Policy{
		{PreferredVendors: []string{"A"}, PreferredVendorsThreshold: 2},
		{PreferredVendorsThreshold: 1},
		{PreferredVendors: []string{"--"}},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v is valid", bad)
		}
	}
}

func TestCrowdsourcedRules(t *testing.T) {
	p := DefaultPolicy()
	c := DefaultCrowdsourced()
	p.Crowdsourced = &c
	clean := &vt.AnalysisStats{Undetected: 70}
	rules := []RuleHit{
		{Kind: RuleYARA, Name: "Emotet_Loader", Source: "win.emotet"},
		{Kind: RuleSigma, Name: "Suspicious Run Key", Severity: "high"},
		{Kind: RuleSigma, Name: "Office Macro Starts Cmd", Severity: "medium"},
		{Kind: RuleIDS, Name: "ET MALWARE Emotet CnC Beacon", Severity: "high"},
	}
	v := p.Verdict(ioc.KindFile, Evidence{Found: true, Stats: clean, Rules: rules})
	want := `crowdsourced rules: 1 YARA match: "Emotet_Loader" (win.emotet); 2 Sigma matches: high "Suspicious Run Key", medium "Office Macro Starts Cmd"; 1 IDS match: high "ET MALWARE Emotet CnC Beacon"; Medium from crowdsourced rules; 0 malicious and 0 suspicious of 70 engines, community reputation 0`
	if v.Level != Medium || v.Reason != want {
		t.Fatalf("got %+v\nwant %s", v, want)
	}
	// Only medium Sigma rules and low IDS alerts: named, not raising.
	weak := []RuleHit{{Kind: RuleSigma, Name: "A", Severity: "medium"}, {Kind: RuleIDS, Name: "B", Severity: "low"}}
	if v = p.Verdict(ioc.KindFile, Evidence{Found: true, Stats: clean, Rules: weak}); v.Level != ZeroRisk || !strings.Contains(v.Reason, `medium "A"`) {
		t.Errorf("weak hits: %+v", v)
	}
	// A zero threshold names the hits without raising.
	p.Crowdsourced = &Crowdsourced{}
	if v = p.Verdict(ioc.KindFile, Evidence{Found: true, Stats: clean, Rules: rules}); v.Level != ZeroRisk || !strings.Contains(v.Reason, "Emotet_Loader") {
		t.Errorf("listed only: %+v", v)
	}
	// Many hits of a kind: three names and how many more.
	var many []RuleHit
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		many = append(many, RuleHit{Kind: RuleYARA, Name: n})
	}
	p.Crowdsourced = &Crowdsourced{YARA: 5}
	if v = p.Verdict(ioc.KindFile, Evidence{Found: true, Stats: clean, Rules: many}); v.Level != Medium || !strings.Contains(v.Reason, `5 YARA matches: "a", "b", "c", 2 more`) {
		t.Errorf("many: %+v", v)
	}
	// Crowdsourced hits never lower a level.
	if v = p.Verdict(ioc.KindFile, Evidence{Found: true, Stats: &vt.AnalysisStats{Malicious: 40}, Rules: many}); v.Level != High {
		t.Errorf("High with rules: %v", v)
	}
}

func TestParsePolicyOptions(t *testing.T) {
	p, err := ParsePolicy([]byte(`{"default": {"suspicious": 2}, "by_kind": {"url": {"high_malicious": 5}},
		"preferred_vendors": [" Kaspersky ", "", "kaspersky", "ESET-NOD32"], "crowdsourced": {"sigma": 3}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultPolicy()
	want.Default.Suspicious = 2
	url := want.Default
	url.HighMalicious = 5
	want.ByKind = map[ioc.Kind]Thresholds{ioc.KindURL: url}
	want.PreferredVendors = []string{"Kaspersky", "ESET-NOD32"}
	want.Crowdsourced = &Crowdsourced{YARA: 1, Sigma: 3, IDS: 1}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
	// What is stored reads back the same.
	b, _ := json.Marshal(p.Normalized())
	back, err := ParsePolicy(b)
	if err != nil || !reflect.DeepEqual(back, p.Normalized()) {
		t.Fatalf("round trip: %+v, %v\n%s", back, err, b)
	}
	for _, bad := range []string{`{"suspicious_threshold": 3}`, `{"crowdsourced": {"yara": -1}}`, `{"default": {"suspicous": 1}}`,
		`{"preferred_vendors": ["A"], "preferred_vendors_threshold": 2}`} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("ParsePolicy(%s) accepted", bad)
		}
	}
	if s := p.Summary(); !strings.Contains(s, "Medium from 2 suspicious") || !strings.Contains(s, "Kaspersky, ESET-NOD32") || !strings.Contains(s, "crowdsourced") {
		t.Errorf("summary %q", s)
	}
	if s := (Policy{}).Summary(); s != "default" {
		t.Errorf("zero policy summary %q", s)
	}
}
