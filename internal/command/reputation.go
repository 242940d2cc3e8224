package command

import (
	"context"
	"fmt"

	"github.com/vtsoar/vtsoar/ioc"
)

// reputationCommands returns check-{file,ip,url,domain}-reputation (see registry.go).
func reputationCommands() []*Command {
	var cmds []*Command
	for _, k := range ioc.Kinds() {
		noun := kindNoun(k)
		cmds = append(cmds, &Command{
			Name:      fmt.Sprintf("check-%s-reputation", k),
			Title:     fmt.Sprintf("Check %s Reputation", noun),
			Kind:      k,
			Group:     "reputation",
			Short:     fmt.Sprintf("Risk level of each %s from VirusTotal's verdicts", k.Noun()),
			Long:      reputationLong(k),
			InputHelp: inputName(k),
			plan:      objectTask,
			exec:      execReputation,
			newFields: func() Fields { return &ObjectFields{} },
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{"RiskLevels": riskLevels(rs)}
			},
			hasRisk:    true,
			Exportable: true,
		})
	}
	return cmds
}

func reputationLong(k ioc.Kind) string {
	return fmt.Sprintf(`Checks the reputation of each %s on VirusTotal and derives its risk level
(High, Medium, Low, N/A, ZeroRisk) from the engines' verdicts (last_analysis_stats) and the
community reputation, with the reason in risk_reason. key_fields.RiskLevels lists the levels
in input order.`, k.Noun())
}

func execReputation(ctx context.Context, r *run, t task) outcome {
	return reputationOutcome(ctx, r, t, r.cmd)
}

// reputationOutcome checks the reputation of t's object in the words of check, the
// reputation command of its kind.
func reputationOutcome(ctx context.Context, r *run, t task, check *Command) outcome {
	obj, err := r.fetchObject(ctx, t.obs, false)
	if err != nil {
		return outcome{entry: ContextEntry{Type: string(t.obs.Kind)}, fail: failureAs(check.NotFound, check.Invalid, err)}
	}
	e := r.baseEntry(obj)
	addIdentity(&e, obj)
	return outcome{entry: e, raw: obj.raw, aliases: obj.runAliases()}
}

// addIdentity adds the fields that name the object (a file's hashes, a URL's URL).
func addIdentity(e *ContextEntry, obj *object) {
	f := objectFields(e)
	switch obj.Kind {
	case ioc.KindFile:
		f.MD5, f.SHA1, f.SHA256 = obj.File.MD5, obj.File.SHA1, obj.File.SHA256
	case ioc.KindURL:
		f.URL = obj.URL.URL
	}
}
