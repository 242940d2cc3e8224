package command

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// scanURLCommands returns scan-url (see registry.go).
func scanURLCommands() []*Command {
	return []*Command{{
		Name:  "scan-url",
		Title: "Scan URL",
		Kind:  ioc.KindURL,
		Group: "scan",
		Short: "Submit URLs for scanning",
		Long: `Submits each URL to VirusTotal for scanning and returns the analysis id
(analysis_id). With --wait the analysis is followed (--poll-interval, --timeout) to its
verdict, and the risk level is derived from the engines' counts.`,
		InputHelp:  "URL",
		newOptions: newWaitOptions,
		plan: func(r *run, input string) (task, *Failure) {
			o, f := r.parseAs(ioc.KindURL, input)
			if f != nil {
				return task{}, f
			}
			if o.Value == "" {
				return task{}, r.invalidInput("a VirusTotal URL id cannot be submitted for scanning; give the URL itself")
			}
			return task{key: objectKey(o), obs: o}, nil
		},
		exec:      execScanURL,
		newFields: func() Fields { return &ObjectFields{} },
		keyFields: func(rs []Result) map[string]any {
			return map[string]any{"AnalysisIDs": analysisIDs(rs), "RiskLevels": riskLevels(rs)}
		},
		hasRisk: true,
	}}
}

func execScanURL(ctx context.Context, r *run, t task) outcome {
	f := &ObjectFields{URL: t.obs.Value}
	entry := ContextEntry{Type: string(ioc.KindURL), ID: ioc.URLSHA256ID(t.obs.Value), Fields: f}
	d, err := r.d.Client.ScanURL(ctx, t.obs.Value)
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	f.AnalysisID = d.ID
	if !options[*WaitOptions](r).Wait {
		return queuedOutcome(entry, d, "submitted")
	}
	a, fail := r.waitAnalysis(ctx, &entry, d.ID, "")
	if fail != nil {
		return outcome{entry: entry, fail: fail}
	}
	return analysisOutcome(r, entry, a, ioc.KindURL)
}

// AnalysisOptions are how a command follows an analysis to its verdict.
type AnalysisOptions struct {
	// PollInterval is the time between polls of an analysis.
	PollInterval time.Duration
	// Timeout bounds how long an analysis is followed.
	Timeout time.Duration
}

func defaultAnalysis() AnalysisOptions {
	return AnalysisOptions{PollInterval: DefaultPollInterval, Timeout: DefaultTimeout}
}

func (o *AnalysisOptions) fields() []Field {
	return []Field{
		{Name: "poll-interval", Usage: "time between polls of an analysis", Positive: true, Value: &o.PollInterval},
		{Name: "timeout", Usage: "how long an analysis is followed", Positive: true, Value: &o.Timeout},
	}
}

// analysisTimeout is Prepared.AnalysisTimeout's.
func (o *AnalysisOptions) analysisTimeout() time.Duration { return o.Timeout }

// analysisOf returns the options that say how the run follows analyses.
func analysisOf(r *run) AnalysisOptions {
	a, _ := r.p.opts.(interface{ analysis() AnalysisOptions })
	if a == nil {
		return defaultAnalysis()
	}
	return a.analysis()
}

func (o *AnalysisOptions) analysis() AnalysisOptions { return *o }

// WaitOptions are the options of scan-url, rescan-file and rescan-url.
type WaitOptions struct {
	// Wait follows each analysis to its verdict.
	Wait bool
	AnalysisOptions
}

func newWaitOptions() Options { return &WaitOptions{AnalysisOptions: defaultAnalysis()} }

// Fields implements Options.
func (o *WaitOptions) Fields() []Field {
	return append([]Field{{Name: "wait", Usage: "follow each analysis to its verdict", Value: &o.Wait}}, o.AnalysisOptions.fields()...)
}

// Validate implements Options.
func (o *WaitOptions) Validate() error { return nil }

// queuedOutcome is the entry of an analysis asked for and not followed (no --wait):
// N/A, with what was done ("submitted") and how to follow it, and the descriptor
// VirusTotal answered as raw_data.
func queuedOutcome(entry ContextEntry, d *vt.AnalysisDescriptor, done string) outcome {
	na := risk.NA
	entry.RiskLevel, entry.RiskLevelCode = na.String(), na.Code()
	entry.RiskReason = done + "; not analysed yet (--wait follows the analysis)"
	objectFields(&entry).AnalysisStatus = string(vt.AnalysisQueued)
	raw, _ := json.Marshal(map[string]any{"data": d})
	return outcome{entry: entry, raw: raw}
}

// waitAnalysis follows the analysis id until it completes (--poll-interval,
// --timeout). A failure says how far it got, in the entry's analysis_status and in
// its message: "analysis ID<of> not completed (queued): ...".
func (r *run) waitAnalysis(ctx context.Context, entry *ContextEntry, id, of string) (*vt.Analysis, *Failure) {
	ao := analysisOf(r)
	a, err := r.d.Client.WaitAnalysis(ctx, id, vt.WaitOptions{Interval: ao.PollInterval, Timeout: ao.Timeout})
	if err != nil {
		f := r.failure(err)
		if a != nil {
			objectFields(entry).AnalysisStatus = string(a.Status)
			f.Message = fmt.Sprintf("analysis %s%s not completed (%s): %s", id, of, a.Status, f.Message)
		}
		return nil, f
	}
	return a, nil
}

// analysisOutcome is the entry of a completed analysis, with the risk level of its
// counts.
func analysisOutcome(r *run, entry ContextEntry, a *vt.Analysis, kind ioc.Kind) outcome {
	stats := a.Stats
	v := r.d.Policy.Evaluate(kind, &stats, 0, true)
	entry.RiskLevel, entry.RiskLevelCode, entry.RiskReason = v.Level.String(), v.Level.Code(), v.Reason
	f := objectFields(&entry)
	f.AnalysisStatus, f.Stats = string(a.Status), &stats
	raw := a.Raw
	if len(raw) == 0 {
		raw, _ = json.Marshal(map[string]any{"data": a})
	}
	return outcome{entry: entry, raw: raw}
}
