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
		exec:      execBehavior,
		newFields: func() Fields { return &BehaviorFields{} },
		keyFields: func(rs []Result) map[string]any {
			return map[string]any{
				"Verdicts": perInput(rs, func(f *BehaviorFields) ([]string, bool) { return f.Verdicts, true }),
				"Tags":     perInput(rs, func(f *BehaviorFields) ([]string, bool) { return f.Tags, true }),
			}
		},
		NotFound: "File Hash Not Found.",
	}}
}

// BehaviorFields are the fields of get-file-behavior-summaries' entries: the sandboxes'
// verdicts and tags, and how much of each kind of activity they saw.
type BehaviorFields struct {
	Verdicts              []string `json:"verdicts"`
	Tags                  []string `json:"tags"`
	ProcessesCreated      int      `json:"processes_created"`
	CommandExecutions     int      `json:"command_executions"`
	FilesWritten          int      `json:"files_written"`
	FilesDeleted          int      `json:"files_deleted"`
	MutexesCreated        int      `json:"mutexes_created"`
	DNSLookups            int      `json:"dns_lookups"`
	IPTraffic             int      `json:"ip_traffic"`
	MitreAttackTechniques int      `json:"mitre_attack_techniques"`
}

func (*BehaviorFields) fields() {}

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
	entry.Fields = &BehaviorFields{
		Verdicts:              strs(s.Verdicts),
		Tags:                  strs(s.Tags),
		ProcessesCreated:      len(s.ProcessesCreated),
		CommandExecutions:     len(s.CommandExecutions),
		FilesWritten:          len(s.FilesWritten),
		FilesDeleted:          len(s.FilesDeleted),
		MutexesCreated:        len(s.MutexesCreated),
		DNSLookups:            rawLen(s.DNSLookups),
		IPTraffic:             rawLen(s.IPTraffic),
		MitreAttackTechniques: rawLen(s.MitreAttackTechniques),
	}
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
