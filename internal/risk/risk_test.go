package risk

import (
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

func stats(m, s, harmless, undetected int) *vt.AnalysisStats {
	return &vt.AnalysisStats{Malicious: m, Suspicious: s, Harmless: harmless, Undetected: undetected}
}

func TestDefaultPolicyBoundaries(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name   string
		stats  *vt.AnalysisStats
		rep    int
		found  bool
		want   Level
		reason string // a substring the reason must hold
	}{
		{"not found", nil, 0, false, NA, "not found"},
		{"no stats", nil, 0, true, NA, "never analysed"},
		{"all zero", stats(0, 0, 0, 0), 0, true, NA, "never analysed"},
		{"only timeouts count as analysed", &vt.AnalysisStats{Timeout: 3}, 0, true, ZeroRisk, "of 3 engines"},
		{"m=10 is High", stats(10, 0, 0, 62), 0, true, High, "10 of 72 engines flag it malicious; High from 10"},
		{"m=45 is High", stats(45, 0, 0, 27), 0, true, High, "45 of 72 engines flag it malicious; High from 10"},
		{"m=9 is Medium", stats(9, 0, 0, 63), 0, true, Medium, "9 of 72 engines flag it malicious; Medium from 3"},
		{"m=3 is Medium", stats(3, 0, 0, 69), 0, true, Medium, "Medium from 3"},
		{"m=2 s=3 is Medium", stats(2, 3, 0, 67), 0, true, Medium, "2 malicious and 3 suspicious of 72 engines; Medium from 5"},
		{"m=2 s=2 is Low", stats(2, 2, 0, 68), 0, true, Low, "2 malicious and 2 suspicious of 72 engines; Low from 1"},
		{"m=0 s=4 is Low", stats(0, 4, 0, 68), 0, true, Low, "Low from 1"},
		{"m=0 s=5 is Medium", stats(0, 5, 0, 67), 0, true, Medium, "Medium from 5"},
		{"m=1 is Low", stats(1, 0, 0, 71), 5, true, Low, "1 malicious and 0 suspicious"},
		{"clean with reputation -1 is Low", stats(0, 0, 60, 12), -1, true, Low, "reputation is -1; Low below 0"},
		{"clean with reputation 0 is ZeroRisk", stats(0, 0, 60, 12), 0, true, ZeroRisk, "0 malicious and 0 suspicious of 72 engines"},
		{"clean with good reputation is ZeroRisk", stats(0, 0, 60, 12), 30, true, ZeroRisk, "reputation 30"},
		{"unsupported engines are not counted", &vt.AnalysisStats{Malicious: 62, Undetected: 10, TypeUnsupported: 4}, 0, true, High, "62 of 72 engines"},
		{"high wins over bad reputation", stats(12, 0, 0, 60), -50, true, High, "High from 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := p.Evaluate(ioc.KindFile, tt.stats, tt.rep, tt.found)
			if v.Level != tt.want {
				t.Fatalf("level = %v, want %v (reason %q)", v.Level, tt.want, v.Reason)
			}
			if !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", v.Reason, tt.reason)
			}
		})
	}
}

func TestPolicyPerKind(t *testing.T) {
	strict := DefaultThresholds()
	strict.HighMalicious = 2
	strict.MediumMalicious = 1
	p := Policy{Default: DefaultThresholds(), ByKind: map[ioc.Kind]Thresholds{ioc.KindURL: strict}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	s := stats(2, 0, 0, 70)
	if got := p.Evaluate(ioc.KindURL, s, 0, true); got.Level != High || !strings.Contains(got.Reason, "High from 2") {
		t.Errorf("url: %+v, want High from 2", got)
	}
	if got := p.Evaluate(ioc.KindFile, s, 0, true).Level; got != Low {
		t.Errorf("file: %v, want Low (default thresholds)", got)
	}
	var zero Policy
	if got := zero.Evaluate(ioc.KindIP, stats(10, 0, 0, 0), 0, true).Level; got != High {
		t.Errorf("zero policy: %v, want the defaults (High)", got)
	}
}

func TestThresholdsValidate(t *testing.T) {
	bad := []Thresholds{
		{HighMalicious: 0, MediumMalicious: 3, MediumFlagged: 5, LowFlagged: 1},
		{HighMalicious: 2, MediumMalicious: 3, MediumFlagged: 5, LowFlagged: 1},
		{HighMalicious: 10, MediumMalicious: 3, MediumFlagged: 1, LowFlagged: 2},
	}
	for _, b := range bad {
		if err := b.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", b)
		}
	}
	if err := DefaultThresholds().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	p := Policy{ByKind: map[ioc.Kind]Thresholds{"hash": DefaultThresholds()}}
	if err := p.Validate(); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy([]byte(`{"default":{"high_malicious":20},"by_kind":{"ip":{"low_reputation_below":-10}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Default.HighMalicious != 20 || p.Default.MediumMalicious != 3 {
		t.Errorf("default = %+v, want high 20 and the other defaults", p.Default)
	}
	ip := p.For(ioc.KindIP)
	if ip.LowReputationBelow != -10 || ip.HighMalicious != 20 {
		t.Errorf("ip = %+v, want the default overridden by low_reputation_below -10", ip)
	}
	if _, err := ParsePolicy([]byte(`{"default":{"high_malicious":1}}`)); err == nil {
		t.Error("high below medium accepted")
	}
}

func TestHighest(t *testing.T) {
	tests := []struct {
		in   []Level
		want Level
	}{
		{nil, NA},
		{[]Level{ZeroRisk}, ZeroRisk},
		{[]Level{ZeroRisk, Low}, Low},
		{[]Level{Low, High, Medium}, High},
		{[]Level{ZeroRisk, NA}, NA},
		{[]Level{Medium, NA, ZeroRisk}, Medium},
		{[]Level{Level(0), Level(9), ZeroRisk}, ZeroRisk},
	}
	for _, tt := range tests {
		if got := Highest(tt.in...); got != tt.want {
			t.Errorf("Highest(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestLevelNames(t *testing.T) {
	want := map[Level]string{High: "High", Medium: "Medium", Low: "Low", NA: "N/A", ZeroRisk: "ZeroRisk"}
	for l, n := range want {
		if l.String() != n {
			t.Errorf("%d.String() = %q, want %q", int(l), l.String(), n)
		}
		back, err := ParseLevel(strings.ToLower(n))
		if err != nil || back != l {
			t.Errorf("ParseLevel(%q) = %v, %v", n, back, err)
		}
		b, err := l.MarshalText()
		if err != nil || string(b) != n {
			t.Errorf("MarshalText(%v) = %q, %v", l, b, err)
		}
	}
	if High.Code() != 1 || ZeroRisk.Code() != 5 {
		t.Error("codes changed")
	}
	if _, err := ParseLevel("critical"); err == nil {
		t.Error("ParseLevel accepted an unknown level")
	}
	if _, err := Level(7).MarshalText(); err == nil {
		t.Error("MarshalText accepted an invalid level")
	}
}
