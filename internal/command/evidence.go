package command

import (
	"encoding/json"

	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// evidence is what the policy weighs of obj: its counts, and the engines' verdicts
// and the crowdsourced rules that matched when the policy reads them (decoded from
// the report only then, so that a default policy costs no extra decoding).
func (r *run) evidence(obj *object) risk.Evidence {
	e := risk.Evidence{Found: true, Stats: obj.Common.LastAnalysisStats, Reputation: obj.Common.Reputation}
	p := r.d.Policy
	if p.NeedsEngines() {
		e.Engines = obj.Common.LastAnalysisResults
		if e.Engines == nil {
			var a struct {
				LastAnalysisResults map[string]vt.EngineResult `json:"last_analysis_results"`
			}
			if err := json.Unmarshal(obj.attrs, &a); err != nil {
				r.log.Warn("the engines' verdicts of a report are unreadable; preferred vendors not weighed", "kind", obj.Kind, "error", err)
			}
			e.Engines = a.LastAnalysisResults
		}
	}
	if p.NeedsRules() && obj.Kind == ioc.KindFile {
		var a struct {
			YARA []struct {
				RuleName    string `json:"rule_name"`
				RulesetName string `json:"ruleset_name"`
			} `json:"crowdsourced_yara_results"`
			Sigma []struct {
				RuleTitle  string `json:"rule_title"`
				RuleLevel  string `json:"rule_level"`
				RuleSource string `json:"rule_source"`
			} `json:"sigma_analysis_results"`
			IDS []struct {
				RuleMsg       string `json:"rule_msg"`
				AlertSeverity string `json:"alert_severity"`
				RuleSource    string `json:"rule_source"`
			} `json:"crowdsourced_ids_results"`
		}
		if err := json.Unmarshal(obj.attrs, &a); err != nil {
			r.log.Warn("the crowdsourced rules of a report are unreadable; not weighed", "error", err)
		}
		for _, y := range a.YARA {
			e.Rules = append(e.Rules, risk.RuleHit{Kind: risk.RuleYARA, Name: y.RuleName, Source: y.RulesetName})
		}
		for _, s := range a.Sigma {
			e.Rules = append(e.Rules, risk.RuleHit{Kind: risk.RuleSigma, Name: s.RuleTitle, Severity: s.RuleLevel, Source: s.RuleSource})
		}
		for _, i := range a.IDS {
			e.Rules = append(e.Rules, risk.RuleHit{Kind: risk.RuleIDS, Name: i.RuleMsg, Severity: i.AlertSeverity, Source: i.RuleSource})
		}
	}
	return e
}
