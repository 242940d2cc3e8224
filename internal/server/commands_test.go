package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/ioc"
)

func TestCommandCheckFileReputation(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.do(t, "POST", "/api/v1/commands/check-file-reputation", "paris", map[string]any{
		"connection": "emu", "inputs": []string{eicarMD5, "not-a-hash", "00000000000000000000000000000000"},
	})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var env command.Envelope
	r.json(t, &env)
	if env.Command != "check-file-reputation" || env.ReturnData != command.PartiallySuccessful || len(env.ContextData) != 3 {
		t.Fatalf("envelope = %+v", env)
	}
	if c := env.ContextData[0]; c.Status != "ok" || c.RiskLevel != "High" || c.RiskLevelCode != 1 {
		t.Fatalf("EICAR entry = %+v, want High", c)
	}
	if len(env.Errors) != 2 || env.Errors[0].StatusCode != 400 || env.Errors[1].StatusCode != 404 || env.Errors[1].Message != "File Not Found." {
		t.Fatalf("errors = %+v, want one invalid input and one not found", env.Errors)
	}
	if len(env.RawData) != 1 {
		t.Fatalf("raw_data has %d entries, want 1", len(env.RawData))
	}

	// A failed run is still 200: return_data says it.
	r = e.do(t, "POST", "/api/v1/commands/check-ip-reputation", "paris", map[string]any{"inputs": []string{"999.1.1.1"}})
	r.json(t, &env)
	if r.status != 200 || env.ReturnData != command.Failed {
		t.Fatalf("all-invalid run = %d %s", r.status, r.body)
	}

	// A second lookup of EICAR comes from the cache: no new request to the emulator.
	before := e.sim.Stats().Requests
	r = e.do(t, "POST", "/api/v1/commands/check-file-reputation", "lyon", map[string]any{"inputs": []string{eicarMD5}})
	r.json(t, &env)
	if env.ReturnData != command.Successful || e.sim.Stats().Requests != before {
		t.Fatalf("cached lookup: %s, emulator requests %d -> %d", env.ReturnData, before, e.sim.Stats().Requests)
	}
}

// raw_data is VirusTotal's answer byte for byte over REST too, live and cached.
func TestCommandRawDataIsVirusTotalsAnswer(t *testing.T) {
	data := filepath.Join("..", "..", "testdata", "vt")
	want, err := os.ReadFile(filepath.Join(data, "file_report_pdf.json"))
	if err != nil {
		t.Fatal(err)
	}
	want = bytes.TrimSpace(want)
	var doc struct {
		Data struct{ ID string } `json:"data"`
	}
	if err := json.Unmarshal(want, &doc); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{simData: data})
	for _, run := range []string{"live", "cached"} {
		r := e.do(t, "POST", "/api/v1/commands/check-file-reputation", "paris", map[string]any{
			"connection": "emu", "inputs": []string{doc.Data.ID}})
		var env struct {
			RawData []json.RawMessage `json:"raw_data"`
		}
		r.json(t, &env)
		if r.status != 200 || len(env.RawData) != 1 || !bytes.Equal(env.RawData[0], want) {
			t.Fatalf("%s: status %d, raw_data is not the emulator's answer: %.300s", run, r.status, r.body)
		}
	}
}

func TestCommandRequestErrors(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, tc := range []struct {
		name, path, user string
		body             any
		status           int
		detail           string
	}{
		{"unknown command", "/api/v1/commands/format-disk", "paris", map[string]any{"inputs": []string{"x"}}, 404, "no command"},
		{"bad JSON", "/api/v1/commands/check-file-reputation", "paris", `{"inputs": [`, 400, "JSON"},
		{"unknown member", "/api/v1/commands/check-file-reputation", "paris", `{"inputs": ["x"], "inptus": 1}`, 400, "inptus"},
		{"no inputs", "/api/v1/commands/check-file-reputation", "paris", map[string]any{"inputs": []string{}}, 400, "at least one input"},
		{"unknown connection", "/api/v1/commands/check-file-reputation", "paris", map[string]any{"connection": "nope", "inputs": []string{eicarMD5}}, 404, "no connection"},
		{"not a user of the connection", "/api/v1/commands/check-file-reputation", "outsider", map[string]any{"connection": "emu", "inputs": []string{eicarMD5}}, 403, "may not use"},
		{"no usable connection", "/api/v1/commands/check-file-reputation", "outsider", map[string]any{"inputs": []string{eicarMD5}}, 404, "no connection"},
		{"option not taken", "/api/v1/commands/check-file-reputation", "paris", map[string]any{"inputs": []string{eicarMD5}, "relationship": "contacted_ips"}, 400, "relationship"},
		{"bad relationship", "/api/v1/commands/get-file-relationships", "paris", map[string]any{"inputs": []string{eicarMD5}, "relationship": "friends"}, 400, "friends"},
		{"out_dir", "/api/v1/commands/retrieve-widget-html-content", "paris", map[string]any{"inputs": []string{eicarMD5}, "out_dir": "/tmp"}, 400, "out_dir"},
		{"concurrency", "/api/v1/commands/check-file-reputation", "paris", map[string]any{"inputs": []string{eicarMD5}, "concurrency": 1000}, 400, "concurrency"},
		{"file_source elsewhere", "/api/v1/commands/check-file-reputation", "paris", map[string]any{"inputs": []string{eicarMD5}, "file_source": "incident"}, 400, "file_source"},
		{"command mismatch", "/api/v1/commands/check-file-reputation", "paris", map[string]any{"command": "scan-url", "inputs": []string{eicarMD5}}, 400, "differs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.do(t, "POST", tc.path, tc.user, tc.body).problem(t, tc.status)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("detail %q, want it to mention %q", p.Detail, tc.detail)
			}
		})
	}
	if n := e.sim.Stats().Requests; n != 0 {
		t.Fatalf("malformed requests sent %d requests to VirusTotal", n)
	}
}

func TestCommandConnectionSites(t *testing.T) {
	e := newEnv(t, envOpts{})
	// A connection serving paris only: lyon may not run it, paris and both may.
	e.do(t, "POST", "/api/v1/connections", "admin", map[string]any{"name": "paris-vt", "api_key": apiKey,
		"server_url": e.simURL, "sites": []string{"paris"}, "quota": "premium"})
	body := map[string]any{"connection": "paris-vt", "inputs": []string{eicarMD5}}
	e.do(t, "POST", "/api/v1/commands/check-file-reputation", "lyon", body).problem(t, 403)
	for _, u := range []string{"paris", "both", "admin"} {
		if r := e.do(t, "POST", "/api/v1/commands/check-file-reputation", u, body); r.status != 200 {
			t.Fatalf("%s: %d %s", u, r.status, r.body)
		}
	}
	// Two connections usable: the request must name one.
	p := e.do(t, "POST", "/api/v1/commands/check-file-reputation", "paris", map[string]any{"inputs": []string{eicarMD5}}).problem(t, 400)
	if !strings.Contains(p.Detail, "emu") || !strings.Contains(p.Detail, "paris-vt") {
		t.Fatalf("detail %q should list the connections", p.Detail)
	}
}

func TestCommandTestConnectionNeverShowsKey(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.do(t, "POST", "/api/v1/commands/test-connection", "admin", map[string]any{"connection": "emu"})
	var env command.Envelope
	r.json(t, &env)
	if r.status != 200 || env.ReturnData != command.Successful {
		t.Fatalf("test-connection = %d %s", r.status, r.body)
	}
	// e.do has checked that the key is nowhere in the answer.
}

func TestDetonateStoredFiles(t *testing.T) {
	e := newEnv(t, envOpts{})
	content := []byte("vtsoar detonation test file\n")
	var up struct {
		ID     string `json:"id"`
		SHA256 string `json:"sha256"`
	}
	r := e.upload(t, "paris", "sample.bin", content, map[string]string{"source": "incident"})
	r.json(t, &up)
	if r.status != 201 {
		t.Fatalf("upload = %d %s", r.status, r.body)
	}
	r = e.upload(t, "lyon", "other.bin", []byte("lyon's file"), map[string]string{"source": "incident"})
	var lyonFile struct{ ID string }
	r.json(t, &lyonFile)

	run := func(user string, body map[string]any) command.Envelope {
		t.Helper()
		body["poll_interval"] = "10ms"
		body["timeout"] = "20s"
		r := e.do(t, "POST", "/api/v1/commands/detonate-files", user, body)
		if r.status != 200 {
			t.Fatalf("detonate-files = %d %s", r.status, r.body)
		}
		var env command.Envelope
		r.json(t, &env)
		return env
	}
	env := run("paris", map[string]any{"inputs": []string{up.ID, "f_doesnotexist", lyonFile.ID}})
	if env.ReturnData != command.PartiallySuccessful || len(env.ContextData) != 3 || len(env.Errors) != 2 {
		t.Fatalf("envelope = %+v", env)
	}
	sum := sha256.Sum256(content)
	if got := env.ContextData[0].ID; got != hex.EncodeToString(sum[:]) {
		t.Fatalf("detonated id %q, want the upload's sha256", got)
	}
	for _, er := range env.Errors {
		if er.Message != "File ID Not Found." || er.StatusCode != 404 {
			t.Fatalf("missing id error = %+v, want File ID Not Found.", er)
		}
	}
	if env.ContextData[2].Error != "File ID Not Found." {
		t.Fatalf("another site's file: %+v", env.ContextData[2])
	}

	// file_source filters: the file was uploaded from an incident, not a playbook.
	env = run("paris", map[string]any{"inputs": []string{up.ID}, "file_source": "playbook"})
	if env.ReturnData != command.Failed || env.Errors[0].Message != "File ID Not Found." {
		t.Fatalf("file_source playbook: %+v", env)
	}
	env = run("paris", map[string]any{"inputs": []string{up.ID}, "file_source": "incident"})
	if env.ReturnData != command.Successful {
		t.Fatalf("file_source incident: %+v", env)
	}
	// A path on the server's disk is not a file id.
	env = run("admin", map[string]any{"inputs": []string{"/etc/passwd"}})
	if env.ReturnData != command.Failed || env.Errors[0].Message != "File ID Not Found." {
		t.Fatalf("server path: %+v", env)
	}
}

// On a connection with VirusTotal's public budget, a premium-only relationship is a
// bad request that says why, and nothing is sent.
func TestPremiumRelationshipOnAPublicConnection(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.do(t, "POST", "/api/v1/connections", "admin", map[string]any{"name": "public-vt", "api_key": apiKey,
		"server_url": e.simURL, "sites": []string{"paris"}, "quota": "public"})
	before := e.sim.Stats().Requests
	p := e.do(t, "POST", "/api/v1/commands/get-url-relationships", "paris", map[string]any{"connection": "public-vt",
		"inputs": []string{"https://example.com/"}, "relationship": "contacted_domains"}).problem(t, 400)
	if !strings.Contains(p.Detail, "contacted_domains is a premium-only relationship of urls") {
		t.Errorf("detail %q", p.Detail)
	}
	if n := e.sim.Stats().Requests - before; n != 0 {
		t.Errorf("%d requests sent to VirusTotal", n)
	}
}

// countingCommands is the registry of every command, counting the requests it
// prepares.
type countingCommands struct{ prepared atomic.Int64 }

func (c *countingCommands) Prepare(req command.Request) (*command.Prepared, error) {
	c.prepared.Add(1)
	return command.Prepare(req)
}

// Every REST command is looked up and checked once: the server asks the registry to
// prepare it once (Prepare does the one lookup and the one validation), and nothing
// else of the server looks a command up or checks its options. The run, the export
// and the file source take the prepared request.
func TestCommandPreparedOnce(t *testing.T) {
	reg := &countingCommands{}
	e := newEnv(t, envOpts{commands: reg})
	var up struct{ ID string }
	e.upload(t, "paris", "sample.bin", []byte("prepared once"), map[string]string{"source": "incident"}).json(t, &up)
	inputs := map[ioc.Kind][]string{ioc.KindFile: {eicarMD5}, ioc.KindIP: {"8.8.8.8"}, ioc.KindURL: {"https://example.com/"},
		ioc.KindDomain: {"example.com"}, "": {eicarMD5, "8.8.8.8"}}
	requests := 0
	for _, c := range command.All() {
		body := map[string]any{"connection": "emu", "inputs": inputs[c.Kind]}
		for _, f := range c.NewOptions().Fields() {
			switch f.JSONName() {
			case "relationship":
				body["relationship"] = command.Relationships(c.Kind)[0].Name
			case "comment":
				body["comment"] = "prepared once"
			case "verdict":
				body["verdict"] = "harmless"
			case "poll_interval":
				body["poll_interval"] = "10ms"
			}
		}
		if c.TakesFiles {
			body["inputs"], body["file_source"] = []string{up.ID}, "incident"
		}
		paths := []string{"/api/v1/commands/" + c.Name}
		if c.Exportable {
			paths = append(paths, paths[0]+"?format=stix", paths[0]+"?format=misp")
		}
		for _, path := range paths {
			before := reg.prepared.Load()
			r := e.do(t, "POST", path, "paris", body)
			requests++
			if n := reg.prepared.Load() - before; n != 1 {
				t.Errorf("POST %s (%d): prepared %d times, want once", path, r.status, n)
			}
			if want := 200; c.CLIOnly != "" {
				want = 400
				r.problem(t, want)
			} else if r.status != want {
				t.Errorf("POST %s = %d %.300s", path, r.status, r.body)
			}
		}
	}
	if requests < 30 {
		t.Fatalf("only %d requests", requests)
	}
}

// TestCommandRefusalsInRESTWords: a refused command's problem names the body's
// members and the connection's quota, never a CLI flag.
func TestCommandRefusalsInRESTWords(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.do(t, "POST", "/api/v1/connections", "admin", map[string]any{"name": "pub", "api_key": apiKey,
		"server_url": e.simURL, "quota": "public"})
	var premium string
	for _, r := range command.Relationships(ioc.KindFile) {
		if r.Premium() {
			premium = r.Name
			break
		}
	}
	for _, tc := range []struct {
		command string
		body    map[string]any
		detail  string
	}{
		{"check-file-reputation", map[string]any{"limit": 5}, `does not take the option "limit"`},
		{"check-file-reputation", map[string]any{"poll_interval": "5s"}, `does not take the option "poll_interval"`},
		{"get-file-relationships", map[string]any{}, `needs a relationship ("relationship")`},
		{"add-comment", map[string]any{}, `needs the comment's text ("comment")`},
		{"add-vote", map[string]any{}, `needs a verdict ("verdict")`},
		{"get-file-relationships", map[string]any{"relationship": premium}, `set the connection's "quota" to "premium"`},
	} {
		tc.body["connection"], tc.body["inputs"] = "pub", []string{eicarMD5}
		p := e.do(t, "POST", "/api/v1/commands/"+tc.command, "admin", tc.body).problem(t, 400)
		if !strings.Contains(p.Detail, tc.detail) || strings.Contains(p.Detail, "--") {
			t.Errorf("%s %v: detail %q, want it to say %s and name no flag", tc.command, tc.body, p.Detail, tc.detail)
		}
	}
	if n := e.sim.Stats().Requests; n != 0 {
		t.Fatalf("refused requests sent %d requests to VirusTotal", n)
	}
}
