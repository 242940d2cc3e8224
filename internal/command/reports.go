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
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{
					"IDs":               ids(rs),
					"LastAnalysisStats": detail(rs, "last_analysis_stats"),
					"RiskLevels":        riskLevels(rs),
				}
			},
			hasRisk:    true,
			Exportable: true,
			noun:       noun,
			invalid:    kindInvalid(k),
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
	entry := ContextEntry{Type: string(ioc.KindURL), ID: ioc.URLSHA256ID(t.obs.Value)}
	entry.set("submitted", true)
	d, err := r.d.Client.ScanURL(ctx, t.obs.Value)
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	entry.set("analysis_id", d.ID)
	a, f := r.waitAnalysis(ctx, &entry, d.ID, " of the submitted URL")
	if f != nil {
		return outcome{entry: entry, fail: f}
	}
	obj, err := r.fetchObject(ctx, t.obs, true)
	if err != nil {
		r.log.InfoContext(ctx, "URL report not available after its analysis; using the analysis", "error", err)
		entry.set("url", t.obs.Value)
		return analysisOutcome(r, entry, a, ioc.KindURL)
	}
	e := r.baseEntry(obj)
	addIdentity(&e, obj)
	addReportFields(&e, obj)
	e.set("submitted", true)
	e.set("analysis_id", d.ID)
	return outcome{entry: e, raw: obj.raw, aliases: obj.runAliases()}
}

func addReportFields(e *ContextEntry, obj *object) {
	setIf := func(k string, v any, ok bool) {
		if ok {
			e.set(k, v)
		}
	}
	c := obj.common
	setIf("tags", c.Tags, len(c.Tags) > 0)
	e.set("total_votes", c.TotalVotes)
	switch obj.kind {
	case ioc.KindFile:
		f := obj.file
		e.set("size", f.Size)
		setIf("type_description", f.TypeDescription, f.TypeDescription != "")
		setIf("meaningful_name", f.MeaningfulName, f.MeaningfulName != "")
		setIf("names", f.Names, len(f.Names) > 0)
		setIf("first_submission_date", f.FirstSubmissionDate.Time(), f.FirstSubmissionDate != 0)
		setIf("last_submission_date", f.LastSubmissionDate.Time(), f.LastSubmissionDate != 0)
		setIf("times_submitted", f.TimesSubmitted, f.TimesSubmitted != 0)
	case ioc.KindURL:
		u := obj.url
		setIf("last_final_url", u.LastFinalURL, u.LastFinalURL != "")
		setIf("title", u.Title, u.Title != "")
		setIf("last_http_response_code", u.LastHTTPResponseCode, u.LastHTTPResponseCode != 0)
		setIf("categories", u.Categories, len(u.Categories) > 0)
		setIf("threat_names", u.ThreatNames, len(u.ThreatNames) > 0)
	case ioc.KindDomain:
		d := obj.domain
		setIf("registrar", d.Registrar, d.Registrar != "")
		setIf("creation_date", d.CreationDate.Time(), d.CreationDate != 0)
		setIf("categories", d.Categories, len(d.Categories) > 0)
	case ioc.KindIP:
		ip := obj.ip
		setIf("asn", ip.ASN, ip.ASN != 0)
		setIf("as_owner", ip.ASOwner, ip.ASOwner != "")
		setIf("country", ip.Country, ip.Country != "")
		setIf("network", ip.Network, ip.Network != "")
	}
}
