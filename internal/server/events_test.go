package server_test

import (
	"strings"
	"testing"
	"time"
)

type eventJSON struct {
	ID            string `json:"id"`
	Site          string `json:"site"`
	Status        string `json:"status"`
	RiskLevel     string `json:"risk_level"`
	RiskLevelCode int    `json:"risk_level_code"`
	Artifacts     []struct {
		Type          string `json:"type"`
		Value         string `json:"value"`
		Status        string `json:"status"`
		RiskLevel     string `json:"risk_level"`
		RiskLevelCode int    `json:"risk_level_code"`
		RiskReason    string `json:"risk_reason"`
		Error         string `json:"error"`
	} `json:"artifacts"`
}

// waitEvent polls an event until it is done.
func (e *env) waitEvent(t *testing.T, id, user string) eventJSON {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ev eventJSON
		r := e.do(t, "GET", "/api/v1/events/"+id, user, nil)
		if r.status != 200 {
			t.Fatalf("GET event = %d %s", r.status, r.body)
		}
		r.json(t, &ev)
		if ev.Status == "done" {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("event still %s after 20s: %s", ev.Status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEventsAreEnrichedAndKeptToTheirSite(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	r := e.do(t, "POST", "/api/v1/events", "paris", map[string]any{"artifacts": []map[string]string{
		{"type": "file", "value": eicarMD5}, {"type": "domain", "value": "example.com"}, {"type": "ip", "value": "not-an-ip"},
	}})
	if r.status != 201 {
		t.Fatalf("POST event = %d %s", r.status, r.body)
	}
	var ev eventJSON
	r.json(t, &ev)
	if ev.ID == "" || ev.Site != "paris" || len(ev.Artifacts) != 3 || r.header.Get("Location") != "/api/v1/events/"+ev.ID {
		t.Fatalf("created event = %+v (Location %q)", ev, r.header.Get("Location"))
	}
	done := e.waitEvent(t, ev.ID, "paris")
	if done.RiskLevel != "High" || done.RiskLevelCode != 1 {
		t.Fatalf("event risk = %s, want High (EICAR): %+v", done.RiskLevel, done)
	}
	if a := done.Artifacts[0]; a.Status != "done" || a.RiskLevel != "High" || !strings.Contains(a.RiskReason, "malicious") {
		t.Fatalf("EICAR artifact = %+v", a)
	}
	if a := done.Artifacts[2]; a.Status != "error" {
		t.Fatalf("invalid IP artifact = %+v, want error", a)
	}

	// Another site's event is not there for lyon: 404 as a missing one, and not listed.
	p := e.do(t, "GET", "/api/v1/events/"+ev.ID, "lyon", nil).problem(t, 404)
	missing := e.do(t, "GET", "/api/v1/events/ev_nope", "lyon", nil).problem(t, 404)
	if strings.Replace(p.Detail, ev.ID, "X", 1) != strings.Replace(missing.Detail, "ev_nope", "X", 1) {
		t.Fatalf("another site's event answers differently from a missing one: %q vs %q", p.Detail, missing.Detail)
	}
	r = e.do(t, "POST", "/api/v1/events", "lyon", map[string]any{"artifacts": []map[string]string{{"type": "ip", "value": "8.8.8.8"}}})
	var lyonEv eventJSON
	r.json(t, &lyonEv)
	var list struct {
		Events []eventJSON `json:"events"`
	}
	e.do(t, "GET", "/api/v1/events", "lyon", nil).json(t, &list)
	if len(list.Events) != 1 || list.Events[0].ID != lyonEv.ID {
		t.Fatalf("lyon lists %+v, want only its own event", list.Events)
	}
	e.do(t, "GET", "/api/v1/events?limit=10", "both", nil).json(t, &list)
	if len(list.Events) != 2 {
		t.Fatalf("a user of both sites lists %d events, want 2", len(list.Events))
	}
	e.do(t, "GET", "/api/v1/events", "admin", nil).json(t, &list)
	if len(list.Events) != 2 {
		t.Fatalf("admin (every site) lists %d events, want 2", len(list.Events))
	}
	e.do(t, "GET", "/api/v1/events?limit=0", "admin", nil).problem(t, 400)
}

func TestEventValidation(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	for _, tc := range []struct {
		user   string
		body   any
		status int
		detail string
	}{
		{"paris", map[string]any{"artifacts": []any{}}, 400, "no artifacts"},
		{"paris", map[string]any{"artifacts": []map[string]string{{"type": "email", "value": "a@b"}}}, 400, "email"},
		{"paris", map[string]any{"artifacts": []map[string]string{{"type": "ip", "value": " "}}}, 400, "empty"},
		{"paris", map[string]any{"site": "lyon", "artifacts": []map[string]string{{"type": "ip", "value": "8.8.8.8"}}}, 403, "lyon"},
		{"both", map[string]any{"artifacts": []map[string]string{{"type": "ip", "value": "8.8.8.8"}}}, 400, "several sites"},
		{"admin", map[string]any{"site": "*", "artifacts": []map[string]string{{"type": "ip", "value": "8.8.8.8"}}}, 400, "not a site"},
		{"paris", `{"artifacts": [{"type": "ip", "value": "8.8.8.8", "extra": 1}]}`, 400, "extra"},
	} {
		p := e.do(t, "POST", "/api/v1/events", tc.user, tc.body).problem(t, tc.status)
		if !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("%v: detail %q, want %q", tc.body, p.Detail, tc.detail)
		}
	}
	// A user of several sites names one; a user of every site gets "default" or names one.
	var ev eventJSON
	e.do(t, "POST", "/api/v1/events", "both", map[string]any{"site": "lyon", "artifacts": []map[string]string{{"type": "ip", "value": "8.8.8.8"}}}).json(t, &ev)
	if ev.Site != "lyon" {
		t.Fatalf("site = %q, want lyon", ev.Site)
	}
	e.do(t, "POST", "/api/v1/events", "admin", map[string]any{"artifacts": []map[string]string{{"type": "ip", "value": "8.8.8.8"}}}).json(t, &ev)
	if ev.Site != "default" {
		t.Fatalf("site = %q, want default", ev.Site)
	}
}

func TestConnectionTestAndHealth(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	var h struct {
		Connection string `json:"connection"`
		Healthy    bool   `json:"healthy"`
		StatusCode int    `json:"status_code"`
	}
	r := e.do(t, "POST", "/api/v1/connections/emu/test", "admin", nil)
	r.json(t, &h)
	if r.status != 200 || !h.Healthy || h.StatusCode != 200 || h.Connection != "emu" {
		t.Fatalf("test = %d %s", r.status, r.body)
	}
	// A connection with a key the server refuses is unhealthy; the key is not echoed.
	e.do(t, "POST", "/api/v1/connections", "admin", map[string]any{"name": "bad", "api_key": "bad-key", "server_url": e.simURL})
	r = e.do(t, "POST", "/api/v1/connections/bad/test", "admin", nil)
	r.json(t, &h)
	if r.status != 200 || h.Healthy || h.StatusCode != 401 {
		t.Fatalf("bad key test = %d %s", r.status, r.body)
	}
	e.do(t, "POST", "/api/v1/connections/none/test", "admin", nil).problem(t, 404)

	var hist struct {
		Connection string `json:"connection"`
		Checks     []struct {
			Healthy bool `json:"healthy"`
		} `json:"checks"`
	}
	e.do(t, "POST", "/api/v1/connections/emu/test", "admin", nil)
	e.do(t, "GET", "/api/v1/connections/emu/health", "paris", nil).json(t, &hist)
	if hist.Connection != "emu" || len(hist.Checks) < 2 || !hist.Checks[0].Healthy {
		t.Fatalf("history = %+v", hist)
	}
	e.do(t, "GET", "/api/v1/connections/emu/health?limit=1", "paris", nil).json(t, &hist)
	if len(hist.Checks) != 1 {
		t.Fatalf("limit=1 gave %d checks", len(hist.Checks))
	}
	// outsider may not use emu: its history is not there for him.
	e.do(t, "GET", "/api/v1/connections/emu/health", "outsider", nil).problem(t, 404)
}

func TestJobs(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	r := e.do(t, "GET", "/api/v1/jobs", "paris", nil)
	var out struct {
		Counts map[string]int `json:"counts"`
		Detail string         `json:"detail"`
	}
	r.json(t, &out)
	if r.status != 200 || (out.Counts == nil && out.Detail == "") {
		t.Fatalf("jobs = %d %s", r.status, r.body)
	}
}

func TestEventsWithoutBackgroundService(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.do(t, "POST", "/api/v1/events", "paris", map[string]any{"artifacts": []map[string]string{{"type": "ip", "value": "8.8.8.8"}}}).problem(t, 503)
}

// TestEventListSaysHowFarEachEventIs: the list leaves out the artifacts but says how
// many there are and how many are done, which the console's list shows ("3 of 3
// done").
func TestEventListSaysHowFarEachEventIs(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	var ev eventJSON
	e.do(t, "POST", "/api/v1/events", "paris", map[string]any{"artifacts": []map[string]string{
		{"type": "file", "value": eicarMD5}, {"type": "domain", "value": "example.com"}, {"type": "ip", "value": "not-an-ip"},
	}}).json(t, &ev)
	e.waitEvent(t, ev.ID, "paris")
	var list struct {
		Events []map[string]any `json:"events"`
	}
	e.do(t, "GET", "/api/v1/events", "paris", nil).json(t, &list)
	if len(list.Events) != 1 {
		t.Fatalf("%d events listed, want 1", len(list.Events))
	}
	got := list.Events[0]
	if got["artifacts_done"] != 3.0 || got["artifacts_total"] != 3.0 || got["artifacts"] != nil {
		t.Errorf("listed event = %v, want artifacts_done 3 and artifacts_total 3, without the artifacts", got)
	}
}
