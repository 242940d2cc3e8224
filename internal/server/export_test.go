package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/export/misp"
	"github.com/vtsoar/vtsoar/internal/export/stix/stixtest"
)

const lookupText = `Reported by the SOC: the phish (from billing[at]invoices-d3sk[.]com) linked to
hxxps://invoices-d3sk[.]com/pay?ref=991 and dropped 44d88612fea8a8f36de82e1278abb02f,
which called 45.61.136(.)22 from 10.4.4.20. See https://www.microsoft.com/security too.`

func TestCommandLookup(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.do(t, "POST", "/api/v1/commands/lookup", "paris", map[string]any{"inputs": []string{lookupText}, "extract": true})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var env command.Envelope
	r.json(t, &env)
	var kinds []string
	for _, c := range env.ContextData {
		kinds = append(kinds, c.Status+" "+c.Type+" "+c.Input)
	}
	want := "ok url hxxps://invoices-d3sk[.]com/pay?ref=991,ok file 44d88612fea8a8f36de82e1278abb02f,ok ip 45.61.136(.)22," +
		"skipped ip 10.4.4.20,skipped url https://www.microsoft.com/security"
	if strings.Join(kinds, ",") != want {
		t.Errorf("entries %v, want %s", kinds, want)
	}
	// The skipped observables with their entries' positions, then the e-mail address
	// the extraction left out.
	if len(env.Skipped) != 3 || env.Skipped[0].Input != "10.4.4.20" || env.Skipped[0].Include != "include_private" ||
		env.Skipped[0].Index == nil || *env.Skipped[0].Index != 3 || env.Skipped[2].Index != nil {
		t.Errorf("skipped %+v", env.Skipped)
	}

	r = e.do(t, "POST", "/api/v1/commands/lookup", "paris", map[string]any{"inputs": []string{"10.4.4.20"}, "include_private": true})
	env = command.Envelope{}
	r.json(t, &env)
	if len(env.ContextData) != 1 || len(env.Skipped) != 0 {
		t.Errorf("include_private: %d entries, skipped %+v", len(env.ContextData), env.Skipped)
	}
	// The options are lookup's.
	r = e.do(t, "POST", "/api/v1/commands/check-ip-reputation", "paris", map[string]any{"inputs": []string{"8.8.8.8"}, "extract": true})
	r.problem(t, 400)
}

func TestCommandFormats(t *testing.T) {
	e := newEnv(t, envOpts{})
	body := map[string]any{"inputs": []string{eicarMD5, "45.61.136.22", "hxxp://185.220.101[.]4:8080/gate.php", "not an observable"}}
	post := func(query, accept string) resp {
		t.Helper()
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/commands/lookup"+query, strings.NewReader(string(j)))
		req.Header.Set("Content-Type", "application/json")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		return e.send(t, req, "paris")
	}
	for _, ask := range []struct{ query, accept string }{
		{"?format=stix", ""},
		{"", "application/stix+json;version=2.1"},
		{"", "text/html, application/stix+json"},
	} {
		r := post(ask.query, ask.accept)
		if r.status != 200 || r.header.Get("Content-Type") != "application/stix+json;version=2.1" {
			t.Fatalf("%+v: %d %s: %s", ask, r.status, r.header.Get("Content-Type"), r.body)
		}
		if err := stixtest.Validate(r.body); err != nil {
			t.Errorf("%+v: not valid STIX 2.1: %v", ask, err)
		}
		if !strings.Contains(string(r.body), `"pattern": "[file:hashes.'SHA-256' = '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f'`) {
			t.Errorf("%+v: no EICAR indicator", ask)
		}
	}
	for _, ask := range []struct{ query, accept string }{{"?format=misp", ""}, {"", "application/vnd.misp+json"}} {
		r := post(ask.query, ask.accept)
		var d misp.Document
		r.json(t, &d)
		if r.status != 200 || len(d.Event.Object) != 3 || d.Event.ThreatLevelID != "1" {
			t.Errorf("%+v: %d %s", ask, r.status, r.body)
		}
	}
	// ?format wins over Accept; json is the envelope.
	r := post("?format=json", "application/stix+json")
	var env command.Envelope
	r.json(t, &env)
	if env.Command != "lookup" || len(env.ContextData) != 4 {
		t.Errorf("format=json: %s", r.body)
	}
	if p := post("?format=xml", "").problem(t, 400); !strings.Contains(p.Detail, "stix") {
		t.Errorf("unknown format: %+v", p)
	}
	post("", "application/stix+json;version=2.0").problem(t, 406)
	r = e.do(t, "POST", "/api/v1/commands/search?format=stix", "paris", map[string]any{"inputs": []string{"type:peexe"}})
	if p := r.problem(t, 400); !strings.Contains(p.Detail, "cannot be written as stix") {
		t.Errorf("search as STIX: %+v", p)
	}
}
