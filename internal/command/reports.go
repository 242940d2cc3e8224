package command

import (
	"context"
	"fmt"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// reportCommands returns get-{file,ip,url,domain}-reports (see registry.go).
func reportCommands() []*Command {
	var cmds []*Command
	for _, k := range ioc.Kinds() {
		noun := kindNoun(k)
		c := &Command{
			Name:      fmt.Sprintf("get-%s-reports", k),
			Title:     fmt.Sprintf("Get %s Reports", noun),
			Kind:      k,
			Group:     "reports",
			Short:     fmt.Sprintf("VirusTotal's report of each %s", k.Noun()),
			InputHelp: inputName(k),
			plan:      objectTask,
			exec:      execReport,
			newFields: func() Fields { return &ObjectFields{} },
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{
					"IDs": ids(rs),
					"LastAnalysisStats": perInput(rs, func(f *ObjectFields) (vt.AnalysisStats, bool) {
						if f.ReportSummary == nil || f.LastAnalysisStats == nil {
							return vt.AnalysisStats{}, false
						}
						return *f.LastAnalysisStats, true
					}),
					"RiskLevels": riskLevels(rs),
				}
			},
			hasRisk:    true,
			Exportable: true,
		}
		switch k {
		case ioc.KindFile:
			c.NotFound = "File Hash Not Found."
		case ioc.KindURL:
			c.Title, c.Invalid = "Get Url Reports", "Invalid URLs."
		}
		c.Long = fmt.Sprintf(`Fetches VirusTotal's report of each %s. raw_data holds the reports as VirusTotal
sent them; context_data the main attributes and the risk level; key_fields the ids
(IDs), the engines' counts (LastAnalysisStats) and the risk levels, in input order.`, k.Noun())
		if k == ioc.KindURL {
			c.newOptions = func() Options { return &URLReportOptions{AnalysisOptions: defaultAnalysis()} }
			c.Long += `

A URL VirusTotal has never seen is submitted for scanning, its analysis followed
(--poll-interval, --timeout) and the fresh report returned ("submitted": true);
--no-submit reports it as not found instead.`
		}
		cmds = append(cmds, c)
	}
	return cmds
}

// URLReportOptions are the options of get-url-reports.
type URLReportOptions struct {
	// NoSubmit reports a URL VirusTotal has never seen as not found instead of
	// submitting it.
	NoSubmit bool
	AnalysisOptions
}

// Fields implements Options.
func (o *URLReportOptions) Fields() []Field {
	return append([]Field{{Name: "no-submit", Usage: "do not submit URLs VirusTotal has never seen", Value: &o.NoSubmit}}, o.AnalysisOptions.fields()...)
}

// Validate implements Options.
func (o *URLReportOptions) Validate() error { return nil }

func execReport(ctx context.Context, r *run, t task) outcome {
	obj, err := r.fetchObject(ctx, t.obs, false)
	if err != nil && vt.IsNotFound(err) && t.obs.Kind == ioc.KindURL && !options[*URLReportOptions](r).NoSubmit && t.obs.Value != "" {
		return r.submitAndReport(ctx, t)
	}
	if err != nil {
		return outcome{entry: ContextEntry{Type: string(t.obs.Kind)}, fail: r.failure(err)}
	}
	e := r.baseEntry(obj)
	addIdentity(&e, obj)
	addReportFields(&e, obj)
	return outcome{entry: e, raw: obj.raw, aliases: obj.runAliases()}
}

// submitAndReport submits a URL VirusTotal has never seen, follows its analysis and
// reports the URL; when the report is still missing after the analysis completed, the
// analysis itself gives the verdict.
func (r *run) submitAndReport(ctx context.Context, t task) outcome {
	f := &ObjectFields{Submitted: true}
	entry := ContextEntry{Type: string(ioc.KindURL), ID: ioc.URLSHA256ID(t.obs.Value), Fields: f}
	d, err := r.d.Client.ScanURL(ctx, t.obs.Value)
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	f.AnalysisID = d.ID
	a, fail := r.waitAnalysis(ctx, &entry, d.ID, " of the submitted URL")
	if fail != nil {
		return outcome{entry: entry, fail: fail}
	}
	obj, err := r.fetchObject(ctx, t.obs, true)
	if err != nil {
		r.log.InfoContext(ctx, "URL report not available after its analysis; using the analysis", "error", err)
		f.URL = t.obs.Value
		return analysisOutcome(r, entry, a, ioc.KindURL)
	}
	e := r.baseEntry(obj)
	addIdentity(&e, obj)
	addReportFields(&e, obj)
	rf := objectFields(&e)
	rf.Submitted, rf.AnalysisID = true, d.ID
	return outcome{entry: e, raw: obj.raw, aliases: obj.runAliases()}
}

func addReportFields(e *ContextEntry, obj *object) {
	c := obj.Common
	d := &ReportDetails{Tags: c.Tags, TotalVotes: c.TotalVotes}
	switch obj.Kind {
	case ioc.KindFile:
		f := obj.File
		d.Size, d.TypeDescription, d.MeaningfulName, d.Names = &f.Size, f.TypeDescription, f.MeaningfulName, f.Names
		d.FirstSubmissionDate, d.LastSubmissionDate = f.FirstSubmissionDate.Time(), f.LastSubmissionDate.Time()
		d.TimesSubmitted = f.TimesSubmitted
	case ioc.KindURL:
		u := obj.URL
		d.LastFinalURL, d.Title, d.LastHTTPResponseCode, d.Categories, d.ThreatNames =
			u.LastFinalURL, u.Title, u.LastHTTPResponseCode, u.Categories, u.ThreatNames
	case ioc.KindDomain:
		dom := obj.Domain
		d.Registrar, d.CreationDate, d.Categories = dom.Registrar, dom.CreationDate.Time(), dom.Categories
	case ioc.KindIP:
		ip := obj.IP
		d.ASN, d.ASOwner, d.Country, d.Network = ip.ASN, ip.ASOwner, ip.Country, ip.Network
	}
	objectFields(e).ReportDetails = d
}
