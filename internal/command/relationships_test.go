package command

import (
	"errors"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

// On a public key every premium-only relationship of the table is refused before any
// request, with a RequestError that says why; every other one runs.
func TestPremiumRelationshipsRefusedOnAPublicKey(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	e.deps.PublicKey = true
	inputs := map[ioc.Kind]string{ioc.KindFile: "44d88612fea8a8f36de82e1278abb02f", ioc.KindURL: "https://vtsoar.net/",
		ioc.KindDomain: "vtsoar.net", ioc.KindIP: "8.8.8.8"}
	refused := 0
	for _, k := range ioc.Kinds() {
		for _, rel := range Relationships(k) {
			if !rel.Premium() {
				continue
			}
			before := e.requests("")
			p, err := Prepare(withOptions(t, "get-"+string(k)+"-relationships", []string{inputs[k]},
				map[string]any{"relationship": strings.ToUpper(rel.Name)}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Run(t.Context(), e.deps, p)
			var re *RequestError
			if !errors.As(err, &re) || !errors.Is(err, ErrPremiumOnly) ||
				!strings.Contains(re.Error(), rel.Name+" is a premium-only relationship of "+string(rel.Collection)) ||
				!strings.Contains(re.Error(), "--quota premium") {
				t.Errorf("%s on a public key: %v", rel, err)
			}
			if n := e.requests(""); n != before {
				t.Errorf("%s: %d requests sent before refusing", rel, n-before)
			}
			refused++
		}
	}
	if refused < 60 {
		t.Errorf("only %d premium relationships refused", refused)
	}
	env := e.run(t, withOptions(t, "get-domain-relationships", []string{"vtsoar.net"}, map[string]any{"relationship": "subdomains"}))
	if env.ReturnData != Successful {
		t.Errorf("a public relationship on a public key: %+v", env.Errors)
	}
	// With the key not known to be public, the premium one is asked, and refused by
	// VirusTotal with a clear message.
	e.deps.PublicKey = false
	env = e.run(t, withOptions(t, "get-url-relationships", []string{"https://vtsoar.net/"}, map[string]any{"relationship": "contacted_domains"}))
	if len(env.Errors) != 1 || env.Errors[0].StatusCode != 403 || !strings.Contains(env.Errors[0].Message, "premium-only") {
		t.Errorf("premium relationship answered 403: %+v", env.Errors)
	}
}

func TestRelationshipHelpGroupsTheTable(t *testing.T) {
	for _, k := range ioc.Kinds() {
		long := relationshipsLong(k)
		premiumAt := strings.Index(long, "Premium-only")
		if premiumAt < 0 {
			t.Fatalf("%s help has no premium section", k)
		}
		premiumPart := long[premiumAt:]
		if end := strings.Index(premiumPart, "Deprecated"); end >= 0 {
			premiumPart = premiumPart[:end]
		}
		for _, rel := range vt.RelationshipsOf(Collection(k)) {
			at := strings.Index(long, rel.Name)
			if at < 0 {
				t.Errorf("%s help does not name %s", k, rel.Name)
				continue
			}
			// A name is listed in its group: premium ones under the premium heading, the
			// others elsewhere (a name may also appear inside a longer one, so look for
			// it with its separators).
			inPremium := false
			for _, part := range strings.FieldsFunc(premiumPart, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
				if part == rel.Name {
					inPremium = true
				}
			}
			if inPremium != rel.Premium() {
				t.Errorf("%s: %s listed as premium %v, the table says %v", k, rel.Name, inPremium, rel.Premium())
			}
		}
	}
	if !strings.Contains(relationshipsLong(ioc.KindFile), "Deprecated (VirusTotal still answers them):\n  sigma_analysis") {
		t.Error("sigma_analysis is not listed as deprecated")
	}
	if !strings.Contains(relationshipHint(ioc.KindFile), "sigma_analysis (deprecated)") ||
		!strings.Contains(relationshipHint(ioc.KindURL), "contacted_domains (premium)") {
		t.Error("hints do not mark premium and deprecated relationships")
	}
}

// Every observable kind has the integration's words (titles, messages, help).
func TestKindWordsCoverEveryKind(t *testing.T) {
	for _, k := range ioc.Kinds() {
		if _, ok := kindWords[k]; !ok {
			t.Errorf("no words for %s", k)
		}
		if Collection(k) == "" {
			t.Errorf("no VirusTotal collection for %s", k)
		}
	}
}
