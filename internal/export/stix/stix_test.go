package stix_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/export"
	"github.com/vtsoar/vtsoar/internal/export/exporttest"
	"github.com/vtsoar/vtsoar/internal/export/stix"
	"github.com/vtsoar/vtsoar/internal/export/stix/stixtest"
	"github.com/vtsoar/vtsoar/ioc"
)

// mixed is one of each kind: EICAR (High) by md5 and by sha256, an IPv4 and an IPv6
// address, a URL, a domain, and an input that fails.
var mixed = []string{
	"44d88612fea8a8f36de82e1278abb02f",
	"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
	"45.61.136.22",
	"2a01:4f8:c17:b8f::2",
	"hxxp://185.220.101[.]4:8080/gate.php",
	"evil-c2.net",
	"not an observable",
}

func TestBundleIsValidSTIX21(t *testing.T) {
	env := exporttest.Lookup(t, mixed...)
	b, err := stix.FromEnvelope(env, stix.Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	data, err := stix.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := stixtest.Validate(data); err != nil {
		t.Fatalf("the bundle is not valid STIX 2.1:\n%v\n%s", err, data)
	}

	count := map[string]int{}
	byID := map[string]stix.Object{}
	for _, o := range b.Objects {
		count[o.Type]++
		byID[o.ID] = o
	}
	// EICAR once (md5 and sha256 name one file), each other observable once.
	want := map[string]int{"identity": 1, "file": 1, "ipv4-addr": 1, "ipv6-addr": 1, "url": 1, "domain-name": 1, "note": 5}
	for typ, n := range want {
		if count[typ] != n {
			t.Errorf("%d %s objects, want %d (%v)", count[typ], typ, n, count)
		}
	}
	var high, medium int
	for _, c := range env.ContextData {
		switch c.RiskLevel {
		case "High":
			high++
		case "Medium":
			medium++
		}
	}
	// EICAR counts twice in the envelope, once in the bundle.
	if count["indicator"] != high-1+medium || count["relationship"] != count["indicator"] {
		t.Errorf("%d indicators and %d relationships for %d High (EICAR twice) and %d Medium", count["indicator"], count["relationship"], high, medium)
	}

	file := findType(b, "file")
	if file.Hashes["MD5"] != "44d88612fea8a8f36de82e1278abb02f" || file.Hashes["SHA-256"] != "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f" || file.Hashes["SHA-1"] == "" {
		t.Errorf("file hashes %v", file.Hashes)
	}
	if u := findType(b, "url"); u.Value != "http://185.220.101.4:8080/gate.php" {
		t.Errorf("url value %q", u.Value)
	}
	for _, o := range b.Objects {
		switch o.Type {
		case "indicator":
			if o.CreatedByRef != stix.IdentityID || o.PatternType != "stix" || o.ValidFrom == "" || o.Description == "" {
				t.Errorf("indicator %+v", o)
			}
		case "note":
			target := byID[o.ObjectRefs[0]]
			if o.CreatedByRef != stix.IdentityID || !strings.Contains(o.Content, "malicious") || !strings.Contains(o.Content, "Community reputation") ||
				o.RiskLevel == "" || o.Stats == nil || target.ID == "" || target.CreatedByRef != "" {
				t.Errorf("note %+v on %+v", o, target)
			}
		case "relationship":
			if o.RelationshipType != "based-on" || byID[o.SourceRef].Type != "indicator" || byID[o.TargetRef].ID == "" {
				t.Errorf("relationship %+v", o)
			}
		}
	}
	eicar := findPattern(b, "file:hashes")
	if eicar.Pattern != "[file:hashes.'SHA-256' = '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f' OR file:hashes.'SHA-1' = '"+file.Hashes["SHA-1"]+"' OR file:hashes.'MD5' = '44d88612fea8a8f36de82e1278abb02f']" {
		t.Errorf("EICAR pattern %q", eicar.Pattern)
	}
	if !strings.Contains(eicar.Name, "High") || eicar.IndicatorTypes[0] != "malicious-activity" {
		t.Errorf("EICAR indicator %+v", eicar)
	}
}

func TestBundleRoundTripsAndIsDeterministic(t *testing.T) {
	env := exporttest.Lookup(t, mixed...)
	now := time.Now()
	b1, err := stix.FromEnvelope(env, stix.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	data1, _ := stix.Marshal(b1)
	b2, _ := stix.FromEnvelope(env, stix.Options{Now: now.Add(time.Hour)})
	data2, _ := stix.Marshal(b2)
	if !bytes.Equal(data1, data2) {
		t.Error("two bundles of the same verdicts differ (every analysed object is dated by its analysis)")
	}
	var back stix.Bundle
	dec := json.NewDecoder(bytes.NewReader(data1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("the bundle does not decode into stix.Bundle: %v", err)
	}
	again, _ := stix.Marshal(&back)
	if !bytes.Equal(again, data1) {
		t.Errorf("decoded and encoded again, the bundle changed:\n%s\nvs\n%s", again, data1)
	}
}

// TestObservableIDs checks the deterministic ids against values computed
// independently with Python's uuid.uuid5 over the canonical JSON of each object's
// id-contributing properties, in the namespace of the STIX 2.1 specification.
func TestObservableIDs(t *testing.T) {
	tests := []struct {
		o    export.Observation
		want string
	}{
		{export.Observation{Kind: ioc.KindIP, Value: "8.8.8.8"}, "ipv4-addr--2f689bf9-0ff2-545f-aa61-e495eb8cecc7"},
		{export.Observation{Kind: ioc.KindIP, Value: "2a01:4f8:c17:b8f::2"}, "ipv6-addr--a54b463e-39de-5f98-86a8-dd8030c88aae"},
		{export.Observation{Kind: ioc.KindDomain, Value: "example.com"}, "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"},
		{export.Observation{Kind: ioc.KindURL, Value: "https://evil.example.net/a?b=1&c=<x>"}, "url--59fff27c-bd28-51bf-ba91-e5e301ce0c8a"},
		{export.Observation{Kind: ioc.KindFile, MD5: "44d88612fea8a8f36de82e1278abb02f", SHA256: "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
			"file--5a0c55a1-48a3-5003-9776-42946d1054cb"},
	}
	for _, tt := range tests {
		o, err := stix.Observable(tt.o)
		if err != nil {
			t.Fatal(err)
		}
		if o.ID != tt.want {
			t.Errorf("%s %s: id %s, want %s", tt.o.Kind, tt.o.Value, o.ID, tt.want)
		}
	}
}

func TestPatternQuotesValues(t *testing.T) {
	got := stix.Pattern(stix.Object{Type: "url", Value: `http://x.example/it's\here`})
	if got != `[url:value = 'http://x.example/it\'s\\here']` {
		t.Errorf("pattern %s", got)
	}
}

// TestValidatorCatchesMistakes makes sure the validation the other tests rely on
// fails on a bundle that is not valid STIX.
func TestValidatorCatchesMistakes(t *testing.T) {
	env := exporttest.Lookup(t, "44d88612fea8a8f36de82e1278abb02f")
	b, err := stix.FromEnvelope(env, stix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mutations := map[string]func(b *stix.Bundle){
		"indicator without pattern": func(b *stix.Bundle) { setType(b, "indicator", func(o *stix.Object) { o.Pattern = "" }) },
		"bad md5":                   func(b *stix.Bundle) { setType(b, "file", func(o *stix.Object) { o.Hashes["MD5"] = "xyz" }) },
		"dangling reference": func(b *stix.Bundle) {
			setType(b, "note", func(o *stix.Object) { o.ObjectRefs = []string{"file--" + export.ID("x")} })
		},
		"created without millis": func(b *stix.Bundle) { setType(b, "note", func(o *stix.Object) { o.Created = "2024-01-01T00:00:00Z" }) },
		"wrong id prefix": func(b *stix.Bundle) {
			setType(b, "identity", func(o *stix.Object) { o.ID = "note--" + export.ID("y") })
		},
		"observable with created": func(b *stix.Bundle) {
			setType(b, "file", func(o *stix.Object) { o.Created = "2024-01-01T00:00:00.000Z" })
		},
	}
	for name, mutate := range mutations {
		data, _ := stix.Marshal(b)
		var c stix.Bundle
		json.Unmarshal(data, &c)
		mutate(&c)
		bad, _ := stix.Marshal(&c)
		if err := stixtest.Validate(bad); err == nil {
			t.Errorf("%s: the validator accepts it", name)
		}
	}
}

func TestOnlyReputationResultsExport(t *testing.T) {
	_, err := stix.FromEnvelope(&command.Envelope{Command: "search"}, stix.Options{})
	var ue *export.ErrUnsupported
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "cannot be written as stix") {
		t.Errorf("search results as STIX: %v", err)
	}
}

func findType(b *stix.Bundle, typ string) stix.Object {
	for _, o := range b.Objects {
		if o.Type == typ {
			return o
		}
	}
	return stix.Object{}
}

func findPattern(b *stix.Bundle, sub string) stix.Object {
	for _, o := range b.Objects {
		if o.Type == "indicator" && strings.Contains(o.Pattern, sub) {
			return o
		}
	}
	return stix.Object{}
}

func setType(b *stix.Bundle, typ string, f func(*stix.Object)) {
	for i := range b.Objects {
		if b.Objects[i].Type == typ {
			f(&b.Objects[i])
			return
		}
	}
}
