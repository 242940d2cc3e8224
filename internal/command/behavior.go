package command

import (
	"context"
	"encoding/json"

	"github.com/vtsoar/vtsoar/ioc"
)

// behaviorCommands returns get-file-behavior-summaries (see registry.go).
func behaviorCommands() []*Command {
	return []*Command{{
		Name:  "get-file-behavior-summaries",
		Title: "Get File Behavior Summaries",
		Kind:  ioc.KindFile,
		Group: "behavior",
		Short: "Sandbox behaviour summary of each file hash",
		Long: `Fetches the summary of every sandbox report VirusTotal has for each file hash
(GET /files/{id}/behaviour_summary): verdicts, tags, processes, files written, network
traffic, MITRE ATT&CK techniques. raw_data holds VirusTotal's answer; context_data the
verdicts, tags and how many of each kind of activity was seen.`,
		InputHelp: "HASH",
		plan: func(r *run, input string) (task, *Failure) {
			o, f := r.parseAs(ioc.KindFile, input)
			if f != nil {
				return task{}, f
			}
			return task{key: objectKey(o), obs: o}, nil
		},
		exec: execBehavior,
		keyFields: func(rs []Result) map[string]any {
			return map[string]any{"Verdicts": detail(rs, "verdicts"), "Tags": detail(rs, "tags")}
		},
		noun:    "File",
		invalid: "Invalid Hash.",
	}}
}

func execBehavior(ctx context.Context, r *run, t task) outcome {
	entry := ContextEntry{Type: string(ioc.KindFile), ID: t.obs.ID}
	s, err := r.d.Client.GetBehaviourSummary(ctx, t.obs.ID)
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	strs := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	entry.set("verdicts", strs(s.Verdicts))
	entry.set("tags", strs(s.Tags))
	entry.set("processes_created", len(s.ProcessesCreated))
	entry.set("command_executions", len(s.CommandExecutions))
	entry.set("files_written", len(s.FilesWritten))
	entry.set("files_deleted", len(s.FilesDeleted))
	entry.set("mutexes_created", len(s.MutexesCreated))
	entry.set("dns_lookups", rawLen(s.DNSLookups))
	entry.set("ip_traffic", rawLen(s.IPTraffic))
	entry.set("mitre_attack_techniques", rawLen(s.MitreAttackTechniques))
	raw := s.Raw
	if len(raw) == 0 {
		raw, _ = json.Marshal(map[string]any{"data": s})
	}
	return outcome{entry: entry, raw: raw}
}

// rawLen counts the elements of a JSON array (0 for anything else).
func rawLen(raw json.RawMessage) int {
	var a []json.RawMessage
	if json.Unmarshal(raw, &a) != nil {
		return 0
	}
	return len(a)
}
