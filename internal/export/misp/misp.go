// Package misp writes VirusTotal verdicts as a MISP event in MISP's JSON format (what
// "Import from MISP JSON" and POST /events/add take): one attribute per observable
// (md5, sha1 and sha256 of a file, ip-dst, url, domain), to_ids for the High and
// Medium ones, and for each observable a virustotal-report object (the template of
// MISP's object library, version 3) with its permalink, detection ratio, community
// score, submission dates and vtsoar's verdict as its comment, referring to the
// observable's attributes ("annotates").
//
// Uuids are UUIDv5s in vtsoar's namespace, derived from the event's observables and
// date, so that importing the same verdicts again updates the same event.
package misp

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/export"
	"github.com/vtsoar/vtsoar/ioc"
)

// The virustotal-report object template of MISP's object library.
const (
	TemplateName    = "virustotal-report"
	TemplateUUID    = "d7dd0154-e04f-4c34-a2fb-79f3a3a52aa4"
	TemplateVersion = "3"
)

// RelationshipType is how a virustotal-report object refers to the attributes of its
// observable.
const RelationshipType = "annotates"

// Distribution values (MISP's).
const (
	DistributionOrganisation = "0" // your organisation only
	DistributionInherit      = "5" // the event's
)

// Document is the top level of MISP's JSON format.
type Document struct {
	Event Event `json:"Event"`
}

// Event is a MISP event.
type Event struct {
	UUID          string      `json:"uuid"`
	Info          string      `json:"info"`
	Date          string      `json:"date"`
	Timestamp     string      `json:"timestamp"`
	ThreatLevelID string      `json:"threat_level_id"`
	Analysis      string      `json:"analysis"`
	Distribution  string      `json:"distribution"`
	Published     bool        `json:"published"`
	Attribute     []Attribute `json:"Attribute"`
	Object        []Object    `json:"Object"`
	Tag           []Tag       `json:"Tag,omitempty"`
}

// Attribute is a MISP attribute, of the event or of an object.
type Attribute struct {
	UUID               string `json:"uuid"`
	Type               string `json:"type"`
	Category           string `json:"category"`
	Value              string `json:"value"`
	ToIDS              bool   `json:"to_ids"`
	Comment            string `json:"comment,omitempty"`
	ObjectRelation     string `json:"object_relation,omitempty"`
	Distribution       string `json:"distribution"`
	DisableCorrelation bool   `json:"disable_correlation"`
	Timestamp          string `json:"timestamp"`
}

// Object is a MISP object.
type Object struct {
	UUID            string      `json:"uuid"`
	Name            string      `json:"name"`
	MetaCategory    string      `json:"meta-category"`
	Description     string      `json:"description"`
	TemplateUUID    string      `json:"template_uuid"`
	TemplateVersion string      `json:"template_version"`
	Distribution    string      `json:"distribution"`
	Comment         string      `json:"comment,omitempty"`
	Timestamp       string      `json:"timestamp"`
	Attribute       []Attribute `json:"Attribute"`
	ObjectReference []Reference `json:"ObjectReference"`
}

// Reference links an object to an attribute or another object.
type Reference struct {
	UUID             string `json:"uuid"`
	ObjectUUID       string `json:"object_uuid"`
	ReferencedUUID   string `json:"referenced_uuid"`
	RelationshipType string `json:"relationship_type"`
	Comment          string `json:"comment,omitempty"`
}

// Tag is a MISP tag.
type Tag struct {
	Name string `json:"name"`
}

// Options tune FromEnvelope.
type Options struct {
	// Now is the event's date and timestamp (zero: time.Now).
	Now time.Time
	// Info is the event's title (empty: one naming the command and the verdicts).
	Info string
}

// FromEnvelope builds the MISP event of a reputation command's envelope.
func FromEnvelope(env *command.Envelope, opts Options) (*Document, error) {
	if err := export.CheckEnvelope(env, export.FormatMISP); err != nil {
		return nil, err
	}
	obs, err := export.Observations(env)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	ts := strconv.FormatInt(now.Unix(), 10)
	date := now.Format(time.DateOnly)

	var keys []string
	for _, o := range obs {
		keys = append(keys, string(o.Kind)+":"+o.ID)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	ev := Event{UUID: export.ID(append([]string{"misp-event", env.Command, date}, keys...)...), Date: date, Timestamp: ts,
		Analysis: "2", Distribution: DistributionOrganisation, Attribute: []Attribute{}, Object: []Object{},
		Tag: []Tag{{Name: "tool:vtsoar"}}}

	counts := map[string]int{}
	seen := map[string]bool{}
	best := 5
	for _, o := range obs {
		key := string(o.Kind) + ":" + o.ID
		if seen[key] {
			continue
		}
		seen[key] = true
		counts[o.RiskLevel]++
		if o.RiskLevelCode > 0 {
			best = min(best, o.RiskLevelCode)
		}
		attrs := observableAttributes(ev.UUID, o, ts)
		ev.Attribute = append(ev.Attribute, attrs...)
		ev.Object = append(ev.Object, reportObject(ev.UUID, o, attrs, ts))
	}
	ev.ThreatLevelID = threatLevel(best)
	ev.Info = opts.Info
	if ev.Info == "" {
		ev.Info = info(env.Command, len(seen), counts)
	}
	return &Document{Event: ev}, nil
}

// threatLevel maps the highest risk to MISP's threat levels (1 High, 2 Medium, 3
// Low, 4 Undefined).
func threatLevel(code int) string {
	switch code {
	case 1:
		return "1"
	case 2:
		return "2"
	case 3:
		return "3"
	}
	return "4"
}

func info(cmd string, n int, counts map[string]int) string {
	var parts []string
	for _, l := range []string{"High", "Medium", "Low", "ZeroRisk", "N/A"} {
		if counts[l] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[l], l))
		}
	}
	s := fmt.Sprintf("vtsoar %s: VirusTotal verdicts on %d observable", cmd, n)
	if n != 1 {
		s += "s"
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// observableAttributes are the event attributes of an observable.
func observableAttributes(event string, o export.Observation, ts string) []Attribute {
	toIDS := o.RiskLevel == "High" || o.RiskLevel == "Medium"
	comment := fmt.Sprintf("VirusTotal: %s. %s", o.RiskLevel, o.RiskReason)
	mk := func(typ, category, value string) Attribute {
		return Attribute{UUID: export.ID("misp-attribute", event, typ, value), Type: typ, Category: category, Value: value,
			ToIDS: toIDS, Comment: comment, Distribution: DistributionInherit, Timestamp: ts}
	}
	switch o.Kind {
	case ioc.KindFile:
		var out []Attribute
		for _, h := range []struct{ typ, v string }{{"sha256", o.SHA256}, {"sha1", o.SHA1}, {"md5", o.MD5}} {
			if h.v != "" {
				out = append(out, mk(h.typ, "Payload delivery", h.v))
			}
		}
		return out
	case ioc.KindIP:
		return []Attribute{mk("ip-dst", "Network activity", o.Value)}
	case ioc.KindURL:
		return []Attribute{mk("url", "Network activity", o.Value)}
	case ioc.KindDomain:
		return []Attribute{mk("domain", "Network activity", o.Value)}
	}
	return nil
}

// reportObject is the virustotal-report object of an observable, referring to its
// attributes.
func reportObject(event string, o export.Observation, attrs []Attribute, ts string) Object {
	id := export.ID("misp-object", event, TemplateName, string(o.Kind), o.ID)
	obj := Object{UUID: id, Name: TemplateName, MetaCategory: "misc", Description: "VirusTotal report",
		TemplateUUID: TemplateUUID, TemplateVersion: TemplateVersion, Distribution: DistributionInherit, Timestamp: ts,
		Comment: fmt.Sprintf("vtsoar: %s (risk level code %d)", o.RiskLevel, o.RiskLevelCode)}
	add := func(relation, typ, category, value string, noCorrelation bool) {
		if value == "" {
			return
		}
		obj.Attribute = append(obj.Attribute, Attribute{UUID: export.ID("misp-object-attribute", id, relation, value),
			Type: typ, Category: category, Value: value, ObjectRelation: relation, Distribution: DistributionInherit,
			DisableCorrelation: noCorrelation, Timestamp: ts})
	}
	add("permalink", "link", "External analysis", o.Permalink(), false)
	add("detection-ratio", "text", "External analysis", o.DetectionRatio(), true)
	add("community-score", "text", "External analysis", strconv.Itoa(o.Reputation), true)
	if !o.FirstSubmission.IsZero() {
		add("first-submission", "datetime", "Other", o.FirstSubmission.UTC().Format(time.RFC3339), false)
	}
	if !o.LastSubmission.IsZero() {
		add("last-submission", "datetime", "Other", o.LastSubmission.UTC().Format(time.RFC3339), false)
	}
	add("comment", "text", "External analysis", fmt.Sprintf("vtsoar risk level %s: %s", o.RiskLevel, o.RiskReason), true)
	obj.ObjectReference = []Reference{}
	for _, a := range attrs {
		obj.ObjectReference = append(obj.ObjectReference, Reference{UUID: export.ID("misp-reference", id, a.UUID),
			ObjectUUID: id, ReferencedUUID: a.UUID, RelationshipType: RelationshipType,
			Comment: "VirusTotal's report of this " + a.Type})
	}
	return obj
}

// Marshal encodes the document as indented JSON.
func Marshal(d *Document) ([]byte, error) {
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
