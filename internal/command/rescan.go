package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// rescanCommands returns rescan-file and rescan-url (see registry.go).
func rescanCommands() []*Command {
	var cmds []*Command
	for _, k := range []ioc.Kind{ioc.KindFile, ioc.KindURL} {
		noun := kindNoun(k)
		cmds = append(cmds, &Command{
			Name:  fmt.Sprintf("rescan-%s", k),
			Title: fmt.Sprintf("Rescan %s", noun),
			Kind:  k,
			Group: "scan",
			Short: fmt.Sprintf("Ask VirusTotal to analyse known %s again", plural(k.Noun())),
			Long: fmt.Sprintf(`Asks VirusTotal to analyse each %s it already knows again (POST
/%s/{id}/analyse) and returns the analysis id (analysis_id). With --wait the analysis is
followed (--poll-interval, --timeout) to its verdict, and the risk level is derived from
the engines' counts. An object given twice is rescanned once.`, k.Noun(), Collection(k)),
			InputHelp:  inputName(k),
			newOptions: newWaitOptions,
			plan:       objectTask,
			exec:       execRescan,
			newFields:  func() Fields { return &ObjectFields{} },
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{"AnalysisIDs": analysisIDs(rs), "RiskLevels": riskLevels(rs)}
			},
			hasRisk: true,
		})
	}
	return cmds
}

func execRescan(ctx context.Context, r *run, t task) outcome {
	entry, url := communityEntry(t.obs)
	if url != "" {
		entry.Fields = &ObjectFields{URL: url}
	}
	var d *vt.AnalysisDescriptor
	var err error
	if t.obs.Kind == ioc.KindFile {
		d, err = r.d.Client.RescanFile(ctx, t.obs.ID)
	} else {
		d, err = r.d.Client.RescanURL(ctx, t.obs.ID)
	}
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	objectFields(&entry).AnalysisID = d.ID
	if !options[*WaitOptions](r).Wait {
		return queuedOutcome(entry, d, "rescan requested")
	}
	a, f := r.waitAnalysis(ctx, &entry, d.ID, "")
	if f != nil {
		return outcome{entry: entry, fail: f}
	}
	return analysisOutcome(r, entry, a, t.obs.Kind)
}

// plural is the plural of a kind's noun ("file hashes", "URLs").
func plural(noun string) string {
	if strings.HasSuffix(noun, "sh") || strings.HasSuffix(noun, "ss") {
		return noun + "es"
	}
	return noun + "s"
}
