package misp_test

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/export/exporttest"
	"github.com/vtsoar/vtsoar/internal/export/misp"
)

var mixed = []string{
	"44d88612fea8a8f36de82e1278abb02f",
	"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
	"45.61.136.22",
	"hxxp://185.220.101[.]4:8080/gate.php",
	"evil-c2.net",
	"not an observable",
}

// template is MISP's virustotal-report object template (testdata, see SOURCES.md).
type template struct {
	Name       string   `json:"name"`
	UUID       string   `json:"uuid"`
	Version    int      `json:"version"`
	Required   []string `json:"required"`
	Attributes map[string]struct {
		MispAttribute string   `json:"misp-attribute"`
		Categories    []string `json:"categories"`
		Multiple      bool     `json:"multiple"`
	} `json:"attributes"`
}

func loadTemplate(t *testing.T) template {
	t.Helper()
	b, err := os.ReadFile("testdata/virustotal-report.definition.json")
	if err != nil {
		t.Fatal(err)
	}
	var tpl template
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestEventFollowsTheTemplate(t *testing.T) {
	tpl := loadTemplate(t)
	if tpl.UUID != misp.TemplateUUID || tpl.Name != misp.TemplateName || misp.TemplateVersion != "3" || tpl.Version != 3 {
		t.Fatalf("the template is %s %s v%d; vtsoar writes %s %s v%s", tpl.Name, tpl.UUID, tpl.Version, misp.TemplateName, misp.TemplateUUID, misp.TemplateVersion)
	}
	env := exporttest.Lookup(t, mixed...)
	doc, err := misp.FromEnvelope(env, misp.Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ev := doc.Event
	attrs := map[string]misp.Attribute{}
	for _, a := range ev.Attribute {
		attrs[a.UUID] = a
	}
	// EICAR (md5 and sha256 of one file) is one observable with three hash attributes.
	if len(ev.Object) != 4 || len(ev.Attribute) != 6 {
		t.Fatalf("%d objects and %d attributes, want 4 and 6:\n%+v", len(ev.Object), len(ev.Attribute), ev)
	}
	wantCategory := map[string]string{"md5": "Payload delivery", "sha1": "Payload delivery", "sha256": "Payload delivery",
		"ip-dst": "Network activity", "url": "Network activity", "domain": "Network activity"}
	for _, a := range ev.Attribute {
		if c, ok := wantCategory[a.Type]; !ok || c != a.Category || a.Value == "" || a.UUID == "" {
			t.Errorf("attribute %+v", a)
		}
		high := strings.HasPrefix(a.Comment, "VirusTotal: High") || strings.HasPrefix(a.Comment, "VirusTotal: Medium")
		if a.ToIDS != high {
			t.Errorf("attribute %s %s: to_ids %v, comment %q", a.Type, a.Value, a.ToIDS, a.Comment)
		}
	}
	for _, o := range ev.Object {
		if o.Name != tpl.Name || o.TemplateUUID != tpl.UUID || o.TemplateVersion != misp.TemplateVersion || o.MetaCategory != "misc" {
			t.Errorf("object %s: %s %s v%s %s", o.UUID, o.Name, o.TemplateUUID, o.TemplateVersion, o.MetaCategory)
		}
		have := map[string]int{}
		for _, a := range o.Attribute {
			have[a.ObjectRelation]++
			def, ok := tpl.Attributes[a.ObjectRelation]
			if !ok {
				t.Errorf("object %s: relation %q is not in the template", o.UUID, a.ObjectRelation)
				continue
			}
			if a.Type != def.MispAttribute || !slices.Contains(def.Categories, a.Category) {
				t.Errorf("object %s: %s is a %s in %q, the template wants a %s in %v", o.UUID, a.ObjectRelation, a.Type, a.Category, def.MispAttribute, def.Categories)
			}
			if have[a.ObjectRelation] > 1 && !def.Multiple {
				t.Errorf("object %s: %s twice", o.UUID, a.ObjectRelation)
			}
		}
		for _, r := range tpl.Required {
			if have[r] == 0 {
				t.Errorf("object %s lacks the required %s", o.UUID, r)
			}
		}
		if have["detection-ratio"] == 0 || have["comment"] == 0 {
			t.Errorf("object %s: relations %v", o.UUID, have)
		}
		if len(o.ObjectReference) == 0 {
			t.Errorf("object %s refers to no attribute", o.UUID)
		}
		for _, r := range o.ObjectReference {
			if _, ok := attrs[r.ReferencedUUID]; !ok || r.ObjectUUID != o.UUID || r.RelationshipType != misp.RelationshipType {
				t.Errorf("reference %+v", r)
			}
		}
	}
	if ev.ThreatLevelID != "1" || !strings.Contains(ev.Info, "High") || ev.Date != time.Now().UTC().Format(time.DateOnly) || ev.Published {
		t.Errorf("event %s %q %s published=%v", ev.ThreatLevelID, ev.Info, ev.Date, ev.Published)
	}
}

func TestEventRoundTripsAndIsDeterministic(t *testing.T) {
	env := exporttest.Lookup(t, mixed...)
	now := time.Now()
	d1, err := misp.FromEnvelope(env, misp.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := misp.Marshal(d1)
	d2, _ := misp.FromEnvelope(env, misp.Options{Now: now})
	b2, _ := misp.Marshal(d2)
	if !bytes.Equal(b1, b2) {
		t.Error("the same verdicts at the same time give different events")
	}
	var back misp.Document
	dec := json.NewDecoder(bytes.NewReader(b1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("the event does not decode into misp.Document: %v", err)
	}
	again, _ := misp.Marshal(&back)
	if !bytes.Equal(again, b1) {
		t.Errorf("decoded and encoded again, the event changed")
	}
	// MISP's JSON format: the event under "Event", numbers of enumerations as strings.
	var generic map[string]map[string]any
	if err := json.Unmarshal(b1, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"threat_level_id", "analysis", "distribution", "timestamp"} {
		if _, ok := generic["Event"][k].(string); !ok {
			t.Errorf("Event.%s is %T, MISP takes a string", k, generic["Event"][k])
		}
	}
}
