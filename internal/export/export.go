// Package export turns the result envelope of a reputation command (lookup,
// check-*-reputation, get-*-reports) into what threat-intelligence platforms import:
// a STIX 2.1 bundle (package stix) or a MISP event (package misp). This package holds
// what both read from the envelope: one Observation per input that succeeded.
package export

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// Formats are the export formats, beside the envelope's own (json, yaml, ...).
const (
	FormatSTIX = "stix"
	FormatMISP = "misp"
)

// Namespace is vtsoar's UUIDv5 namespace, from which the ids of the objects it
// creates (its identity, indicators, notes, MISP events and attributes) are derived,
// so that the same verdict gives the same ids on every run.
var Namespace = uuid.MustParse("ed9a4d28-7871-4b17-9fe2-df963968060b")

// ID derives a deterministic UUID (version 5) in vtsoar's namespace from parts.
func ID(parts ...string) string {
	return uuid.NewSHA1(Namespace, []byte(strings.Join(parts, "\x00"))).String()
}

// ErrUnsupported is returned for the results of a command that are not exportable
// (command.Command.Exportable: they are not VirusTotal's reports of observables).
type ErrUnsupported struct{ Command, Format string }

func (e *ErrUnsupported) Error() string {
	return fmt.Sprintf("%s results cannot be written as %s: only lookup, check-*-reputation and get-*-reports results are observables with verdicts", e.Command, e.Format)
}

// Check returns an *ErrUnsupported when the results of cmd cannot be exported.
func Check(cmd *command.Command, format string) error {
	if !cmd.Exportable {
		return &ErrUnsupported{Command: cmd.Name, Format: format}
	}
	return nil
}

// CheckEnvelope returns an *ErrUnsupported when env holds results that cannot be
// exported.
func CheckEnvelope(env *command.Envelope, format string) error {
	cmd, ok := env.Source()
	if !ok {
		return &ErrUnsupported{Command: env.Command, Format: format}
	}
	return Check(cmd, format)
}

// Observation is what VirusTotal said of one input that succeeded.
type Observation struct {
	// Input is the input as given (maybe defanged).
	Input string
	// Kind is the observable's kind.
	Kind ioc.Kind
	// ID is VirusTotal's id of the object (a file's sha256, a URL's sha256 id).
	ID string
	// Value is the IP address, domain or URL; a file's sha256.
	Value string
	// MD5, SHA1 and SHA256 are a file's hashes.
	MD5, SHA1, SHA256 string
	// Stats are the engines' verdicts; nil when the object was never analysed.
	Stats *vt.AnalysisStats
	// Reputation is the community score.
	Reputation int
	// RiskLevel, RiskLevelCode and RiskReason are vtsoar's verdict.
	RiskLevel     string
	RiskLevelCode int
	RiskReason    string
	// AnalysisDate is the date of the last analysis (zero when unknown).
	AnalysisDate time.Time
	// FirstSubmission and LastSubmission are a file's submission dates.
	FirstSubmission, LastSubmission time.Time
}

// Permalink is the object's page on VirusTotal.
func (o Observation) Permalink() string {
	path := map[ioc.Kind]string{ioc.KindFile: "file", ioc.KindIP: "ip-address", ioc.KindURL: "url", ioc.KindDomain: "domain"}[o.Kind]
	return "https://www.virustotal.com/gui/" + path + "/" + o.ID
}

// DetectionRatio is "malicious/engines with a verdict", as VirusTotal shows it.
func (o Observation) DetectionRatio() string {
	if o.Stats == nil {
		return ""
	}
	s := o.Stats
	n := s.Harmless + s.Malicious + s.Suspicious + s.Undetected
	if n == 0 {
		n = s.Total()
	}
	return fmt.Sprintf("%d/%d", s.Malicious, n)
}

// attributes are what an Observation reads of a report.
type attributes struct {
	ID                              string
	MD5, SHA1, SHA256, URL          string
	LastAnalysisStats               *vt.AnalysisStats
	Reputation                      int
	LastAnalysisDate                time.Time
	FirstSubmission, LastSubmission time.Time
}

// reportOf returns what an Observation reads of the report of the entry c: the report
// the run kept, else the one in raw.
func reportOf(c command.ContextEntry, raw []byte) (attributes, error) {
	if f, ok := c.Fields.(*command.ObjectFields); ok {
		if r, ok := f.Report(); ok {
			first, last := r.SubmissionDates()
			return attributes{ID: r.ID, MD5: r.File.MD5, SHA1: r.File.SHA1, SHA256: r.File.SHA256, URL: r.URL.URL,
				LastAnalysisStats: r.Common.LastAnalysisStats, Reputation: r.Common.Reputation,
				LastAnalysisDate: r.Common.LastAnalysisDate.Time(), FirstSubmission: first, LastSubmission: last}, nil
		}
	}
	var rep report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return attributes{}, err
	}
	a := rep.Data.Attributes
	return attributes{ID: rep.Data.ID, MD5: a.MD5, SHA1: a.SHA1, SHA256: a.SHA256, URL: a.URL,
		LastAnalysisStats: a.LastAnalysisStats, Reputation: a.Reputation, LastAnalysisDate: a.LastAnalysisDate.Time(),
		FirstSubmission: a.FirstSubmissionDate.Time(), LastSubmission: a.LastSubmissionDate.Time()}, nil
}

// report is the part of a VirusTotal report an Observation reads.
type report struct {
	Data struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Attributes struct {
			MD5                 string            `json:"md5"`
			SHA1                string            `json:"sha1"`
			SHA256              string            `json:"sha256"`
			URL                 string            `json:"url"`
			LastAnalysisDate    vt.Timestamp      `json:"last_analysis_date"`
			LastAnalysisStats   *vt.AnalysisStats `json:"last_analysis_stats"`
			Reputation          int               `json:"reputation"`
			FirstSubmissionDate vt.Timestamp      `json:"first_submission_date"`
			LastSubmissionDate  vt.Timestamp      `json:"last_submission_date"`
		} `json:"attributes"`
	} `json:"data"`
}

// Observations returns an Observation per input of env that succeeded, in input
// order, read from its context entry and the report its verdict came from: the
// decoded report the run kept (command.ObjectFields.Report), else (an envelope
// decoded from JSON) VirusTotal's report in raw_data.
func Observations(env *command.Envelope) ([]Observation, error) {
	var out []Observation
	raw := 0
	for _, c := range env.ContextData {
		if c.Status != command.StatusOK {
			continue
		}
		if raw >= len(env.RawData) {
			return nil, fmt.Errorf("export: %d inputs succeeded but raw_data has %d reports", raw+1, len(env.RawData))
		}
		a, err := reportOf(c, env.RawData[raw])
		if err != nil {
			return nil, fmt.Errorf("export: the report of %s: %w", c.Input, err)
		}
		raw++
		kind := ioc.Kind(c.Type)
		o := Observation{Input: c.Input, Kind: kind, ID: c.ID, Stats: a.LastAnalysisStats, Reputation: a.Reputation,
			RiskLevel: c.RiskLevel, RiskLevelCode: c.RiskLevelCode, RiskReason: c.RiskReason,
			AnalysisDate: a.LastAnalysisDate, FirstSubmission: a.FirstSubmission, LastSubmission: a.LastSubmission}
		if o.ID == "" {
			o.ID = a.ID
		}
		switch kind {
		case ioc.KindFile:
			o.MD5, o.SHA1, o.SHA256 = strings.ToLower(a.MD5), strings.ToLower(a.SHA1), strings.ToLower(a.SHA256)
			if o.SHA256 == "" {
				o.SHA256 = strings.ToLower(o.ID)
			}
			o.Value = o.SHA256
		case ioc.KindURL:
			o.Value = a.URL
			if o.Value == "" {
				if p, err := ioc.ParseURL(c.Input); err == nil {
					o.Value = p.Value
				}
			}
		case ioc.KindIP, ioc.KindDomain:
			o.Value = o.ID
		default:
			continue // not an observable (an entry of another command)
		}
		if o.Value == "" || o.ID == "" {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}
