// Package stix writes VirusTotal verdicts as a STIX 2.1 bundle, the form OpenCTI and
// TAXII servers take: each observable as a STIX Cyber-observable Object (file with its
// hashes, ipv4-addr or ipv6-addr, url, domain-name), an indicator with its STIX
// pattern for each High or Medium one ("based-on" the observable), and VirusTotal's
// verdict as a note on the observable with the engines' counts and vtsoar's reason;
// every object but the observables is created by the identity of vtsoar.
//
// Ids are deterministic: an observable's id is the UUIDv5 of its id-contributing
// properties in the namespace the STIX 2.1 specification gives (section 2.9), so that
// the same file or address has the same id in every producer's bundles; the other
// objects' ids are UUIDv5s of their content in vtsoar's namespace, and their
// timestamps are the date of VirusTotal's analysis, so that the same verdict gives
// the same objects.
//
// No maintained Go STIX library is available to the module here (the module proxy
// refuses github.com/TcM1911/stix2 and github.com/freetaxii/libstix2), so the package
// has the few types it writes; they decode the bundles it writes too.
package stix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/export"
	"github.com/vtsoar/vtsoar/ioc"
)

// SpecVersion is the STIX version of the objects.
const SpecVersion = "2.1"

// MediaType is the media type of a STIX 2.1 bundle.
const MediaType = "application/stix+json;version=2.1"

// SCONamespace is the namespace of deterministic STIX Cyber-observable ids (STIX 2.1,
// section 2.9).
var SCONamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// IdentityID is the id of vtsoar's identity, the creator of the objects.
var IdentityID = "identity--" + export.ID("identity", "vtsoar")

// identityCreated is when vtsoar's identity object was first defined.
var identityCreated = Timestamp(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))

// Bundle is a STIX 2.1 bundle.
type Bundle struct {
	Type    string   `json:"type"`
	ID      string   `json:"id"`
	Objects []Object `json:"objects"`
}

// ExternalReference points outside STIX (VirusTotal's page of the object).
type ExternalReference struct {
	SourceName  string `json:"source_name"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
}

// Object is one STIX object of the kinds this package writes (identity, file,
// ipv4-addr, ipv6-addr, url, domain-name, indicator, relationship, note); the members
// of the other kinds are left empty.
type Object struct {
	Type         string `json:"type"`
	SpecVersion  string `json:"spec_version"`
	ID           string `json:"id"`
	CreatedByRef string `json:"created_by_ref,omitempty"`
	Created      string `json:"created,omitempty"`
	Modified     string `json:"modified,omitempty"`

	// identity
	Name          string `json:"name,omitempty"`
	IdentityClass string `json:"identity_class,omitempty"`
	Description   string `json:"description,omitempty"`

	// observables
	Hashes map[string]string `json:"hashes,omitempty"`
	Value  string            `json:"value,omitempty"`

	// indicator
	IndicatorTypes []string `json:"indicator_types,omitempty"`
	Pattern        string   `json:"pattern,omitempty"`
	PatternType    string   `json:"pattern_type,omitempty"`
	PatternVersion string   `json:"pattern_version,omitempty"`
	ValidFrom      string   `json:"valid_from,omitempty"`

	// relationship
	RelationshipType string `json:"relationship_type,omitempty"`
	SourceRef        string `json:"source_ref,omitempty"`
	TargetRef        string `json:"target_ref,omitempty"`

	// note
	Abstract   string   `json:"abstract,omitempty"`
	Content    string   `json:"content,omitempty"`
	Authors    []string `json:"authors,omitempty"`
	ObjectRefs []string `json:"object_refs,omitempty"`

	Labels             []string            `json:"labels,omitempty"`
	ExternalReferences []ExternalReference `json:"external_references,omitempty"`

	// vtsoar's verdict on a note, as custom properties.
	RiskLevel     string         `json:"x_vtsoar_risk_level,omitempty"`
	RiskLevelCode int            `json:"x_vtsoar_risk_level_code,omitempty"`
	Stats         map[string]int `json:"x_virustotal_last_analysis_stats,omitempty"`
	Reputation    *int           `json:"x_virustotal_reputation,omitempty"`
}

// Timestamp formats t as STIX does: UTC, millisecond precision.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Options tune FromEnvelope.
type Options struct {
	// Now dates the objects of a verdict whose analysis date VirusTotal did not give
	// (zero: time.Now).
	Now time.Time
}

// FromEnvelope builds the bundle of a reputation command's envelope.
func FromEnvelope(env *command.Envelope, opts Options) (*Bundle, error) {
	if err := export.CheckEnvelope(env, export.FormatSTIX); err != nil {
		return nil, err
	}
	obs, err := export.Observations(env)
	if err != nil {
		return nil, err
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	b := &Bundle{Type: "bundle"}
	b.Objects = append(b.Objects, Identity())
	seen := map[string]bool{}
	for _, o := range obs {
		sco, err := Observable(o)
		if err != nil {
			return nil, err
		}
		if seen[sco.ID] {
			continue // the same object given twice (a file by md5 and by sha256)
		}
		seen[sco.ID] = true
		b.Objects = append(b.Objects, sco)
		at := o.AnalysisDate
		if at.IsZero() {
			at = opts.Now
		}
		refs := []string{sco.ID}
		if o.RiskLevel == "High" || o.RiskLevel == "Medium" {
			ind := indicator(o, sco, at)
			rel := relationship(ind.ID, "based-on", sco.ID, at)
			b.Objects = append(b.Objects, ind, rel)
			refs = append(refs, ind.ID)
		}
		b.Objects = append(b.Objects, note(o, refs, at))
	}
	ids := make([]string, len(b.Objects))
	for i, o := range b.Objects {
		ids[i] = o.ID
	}
	b.ID = "bundle--" + export.ID(append([]string{"bundle"}, ids...)...)
	return b, nil
}

// Identity is vtsoar's identity, the creator of the objects of its bundles.
func Identity() Object {
	return Object{Type: "identity", SpecVersion: SpecVersion, ID: IdentityID, Created: identityCreated, Modified: identityCreated,
		Name: "vtsoar", IdentityClass: "system",
		Description: "vtsoar, the VirusTotal integration that checked these observables; its verdicts derive from VirusTotal's engines and community"}
}

// Observable is the STIX Cyber-observable Object of o, with its deterministic id.
func Observable(o export.Observation) (Object, error) {
	var obj Object
	switch o.Kind {
	case ioc.KindFile:
		obj = Object{Type: "file", Hashes: map[string]string{}}
		for k, v := range map[string]string{"MD5": o.MD5, "SHA-1": o.SHA1, "SHA-256": o.SHA256} {
			if v != "" {
				obj.Hashes[k] = v
			}
		}
	case ioc.KindIP:
		a, err := netip.ParseAddr(o.Value)
		if err != nil {
			return Object{}, fmt.Errorf("stix: %q is not an IP address: %w", o.Value, err)
		}
		obj = Object{Type: "ipv4-addr", Value: a.String()}
		if a.Is6() && !a.Is4In6() {
			obj.Type = "ipv6-addr"
		} else {
			obj.Value = a.Unmap().String()
		}
	case ioc.KindURL:
		obj = Object{Type: "url", Value: o.Value}
	case ioc.KindDomain:
		obj = Object{Type: "domain-name", Value: o.Value}
	default:
		return Object{}, fmt.Errorf("stix: no observable for kind %q", o.Kind)
	}
	obj.SpecVersion = SpecVersion
	id, err := SCOID(obj)
	if err != nil {
		return Object{}, err
	}
	obj.ID = id
	return obj, nil
}

// SCOID is the deterministic id of a Cyber-observable Object (STIX 2.1 section 2.9):
// the UUIDv5, in SCONamespace, of the canonical JSON (RFC 8785) of its
// id-contributing properties; of a file's hashes only one counts, the first of MD5,
// SHA-1, SHA-256 and SHA-512 it has.
func SCOID(obj Object) (string, error) {
	var contrib map[string]any
	switch obj.Type {
	case "file":
		for _, k := range []string{"MD5", "SHA-1", "SHA-256", "SHA-512"} {
			if v, ok := obj.Hashes[k]; ok {
				contrib = map[string]any{"hashes": map[string]any{k: v}}
				break
			}
		}
		if contrib == nil && obj.Name != "" {
			contrib = map[string]any{"name": obj.Name}
		}
	case "ipv4-addr", "ipv6-addr", "url", "domain-name":
		if obj.Value != "" {
			contrib = map[string]any{"value": obj.Value}
		}
	}
	if contrib == nil {
		return "", fmt.Errorf("stix: a %s without its id-contributing properties has no deterministic id", obj.Type)
	}
	data, err := canonicalJSON(contrib)
	if err != nil {
		return "", err
	}
	return obj.Type + "--" + uuid.NewSHA1(SCONamespace, data).String(), nil
}

// canonicalJSON is the RFC 8785 form of v, an object of objects and strings: members
// sorted by name (Go sorts map keys by bytes, the same as by UTF-16 code units for
// the ASCII names used here), no white space, and no HTML escaping.
func canonicalJSON(v map[string]any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	// encoding/json escapes U+2028 and U+2029 even without HTML escaping; RFC 8785
	// writes them as they are.
	out = bytes.ReplaceAll(out, []byte(`\u2028`), []byte("\u2028"))
	out = bytes.ReplaceAll(out, []byte(`\u2029`), []byte("\u2029"))
	return out, nil
}

// Pattern is the STIX pattern matching the observable.
func Pattern(sco Object) string {
	switch sco.Type {
	case "file":
		var terms []string
		for _, k := range []string{"SHA-256", "SHA-1", "MD5"} {
			if v, ok := sco.Hashes[k]; ok {
				terms = append(terms, fmt.Sprintf("file:hashes.'%s' = '%s'", k, quote(v)))
			}
		}
		return "[" + strings.Join(terms, " OR ") + "]"
	default:
		return fmt.Sprintf("[%s:value = '%s']", sco.Type, quote(sco.Value))
	}
}

// quote escapes a STIX pattern string literal's content.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

func indicator(o export.Observation, sco Object, at time.Time) Object {
	pattern := Pattern(sco)
	ts := Timestamp(at)
	types := []string{"malicious-activity"}
	if o.RiskLevel == "Medium" {
		types = []string{"anomalous-activity"}
	}
	return Object{Type: "indicator", SpecVersion: SpecVersion, ID: "indicator--" + export.ID("indicator", pattern, ts, o.RiskLevel),
		CreatedByRef: IdentityID, Created: ts, Modified: ts,
		Name:           fmt.Sprintf("VirusTotal %s: %s", o.RiskLevel, displayValue(o)),
		Description:    o.RiskReason,
		IndicatorTypes: types, Pattern: pattern, PatternType: "stix", PatternVersion: SpecVersion, ValidFrom: ts,
		Labels:             []string{"virustotal", "risk-" + strings.ToLower(o.RiskLevel)},
		ExternalReferences: []ExternalReference{{SourceName: "VirusTotal", URL: o.Permalink()}},
	}
}

func relationship(source, typ, target string, at time.Time) Object {
	ts := Timestamp(at)
	return Object{Type: "relationship", SpecVersion: SpecVersion, ID: "relationship--" + export.ID("relationship", source, typ, target),
		CreatedByRef: IdentityID, Created: ts, Modified: ts, RelationshipType: typ, SourceRef: source, TargetRef: target}
}

func note(o export.Observation, refs []string, at time.Time) Object {
	ts := Timestamp(at)
	var c strings.Builder
	fmt.Fprintf(&c, "VirusTotal's verdict on %s: %s (risk level code %d). %s.", displayValue(o), o.RiskLevel, o.RiskLevelCode, strings.TrimSuffix(o.RiskReason, "."))
	stats := map[string]int{}
	if s := o.Stats; s != nil {
		stats = map[string]int{"malicious": s.Malicious, "suspicious": s.Suspicious, "undetected": s.Undetected, "harmless": s.Harmless,
			"timeout": s.Timeout, "confirmed-timeout": s.ConfirmedTimeout, "failure": s.Failure, "type-unsupported": s.TypeUnsupported}
		fmt.Fprintf(&c, " Engines: %d malicious, %d suspicious, %d undetected, %d harmless (detection ratio %s).",
			s.Malicious, s.Suspicious, s.Undetected, s.Harmless, o.DetectionRatio())
	}
	fmt.Fprintf(&c, " Community reputation: %d.", o.Reputation)
	if !o.AnalysisDate.IsZero() {
		fmt.Fprintf(&c, " Last analysis: %s.", o.AnalysisDate.UTC().Format(time.RFC3339))
	}
	content := c.String()
	rep := o.Reputation
	n := Object{Type: "note", SpecVersion: SpecVersion, ID: "note--" + export.ID(append([]string{"note", content, ts}, refs...)...),
		CreatedByRef: IdentityID, Created: ts, Modified: ts,
		Abstract: "VirusTotal: " + o.RiskLevel, Content: content, Authors: []string{"vtsoar"}, ObjectRefs: slices.Clone(refs),
		Labels:             []string{"virustotal", "risk-" + strings.ToLower(strings.ReplaceAll(o.RiskLevel, "/", ""))},
		ExternalReferences: []ExternalReference{{SourceName: "VirusTotal", URL: o.Permalink()}},
		RiskLevel:          o.RiskLevel, RiskLevelCode: o.RiskLevelCode, Reputation: &rep,
	}
	if len(stats) > 0 {
		n.Stats = stats
	}
	return n
}

func displayValue(o export.Observation) string {
	if o.Kind == ioc.KindFile {
		return "file " + o.SHA256
	}
	return o.Value
}

// Marshal encodes the bundle as indented JSON.
func Marshal(b *Bundle) ([]byte, error) {
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
