package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/export/misp"
	"github.com/vtsoar/vtsoar/internal/export/stix"
	"github.com/vtsoar/vtsoar/internal/export/stix/stixtest"
	"github.com/vtsoar/vtsoar/vtsim"
)

// phishIncident is the text an analyst pastes from a ticket: a forwarded phish, the
// SOC's notes and a proxy log, with defanged indicators, the same ones written
// several ways, internal and documentation addresses, and the usual noise (file
// names, times, versions, ticket numbers, a signature's links).
const phishIncident = `Ticket INC-20417 - Suspected credential phish / malware drop (P2)

---------- Forwarded message ---------
From: "Accounts Payable" <accounts[at]suppl1er-payments[.]com>
Date: Tue, 09:41 UTC
Subject: Overdue invoice 4471 - action required

Dear customer, please review the invoice at
hxxps://suppl1er-payments[.]com/invoice/view?id=7781 before Friday.

Analyst notes (jdoe, 10:05):
- 3 users clicked the link; the page redirected to hxxp://185.220.101[.]4:8080/gate.php
  and served invoice.zip, which unpacks setup.py and svchost.exe (v2.1.4).
- Sandbox hashes of the payload: MD5 44d88612fea8a8f36de82e1278abb02f,
  SHA1 3395856ce81f2b7382dee72602f798b642f14140,
  SHA256 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f
  (EDR shows the md5 as 44D88612FEA8A8F36DE82E1278ABB02F.)
- Beacons every 60s from 10.20.30.40 and 192.168.7.12 to 45.61.136(.)22:443;
  the loopback 127.0.0.1:8080 proxy and the test net 203.0.113.50 are ours.
- Also resolves: suppl1er-payments(.)com, SUPPL1ER-PAYMENTS[.]COM

Proxy log excerpt:
2024-06-11T09:42:13Z src=10.20.30.40 dst=45.61.136.22 dport=443 host=suppl1er-payments.com action=allowed
2024-06-11T09:42:15Z src=192.168.7.12 dst=45.61.136.22 dport=443 bytes=5120 action=allowed

--
Sent from Outlook - https://www.microsoft.com/en-us/microsoft-365/outlook | www.linkedin.com/company/acme
`

const eicarSHA1 = "3395856ce81f2b7382dee72602f798b642f14140"

type lookupEnvelope struct {
	envelope
	Skipped []struct {
		Input, Type, Value, Reason, Include string
	} `json:"skipped"`
}

func decodeLookup(t *testing.T, r result) lookupEnvelope {
	t.Helper()
	var en lookupEnvelope
	if err := json.Unmarshal([]byte(r.stdout), &en); err != nil {
		t.Fatalf("not an envelope (exit %d): %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	checkShape(t, en.envelope, r)
	return en
}

func TestLookupIncidentText(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	db := filepath.Join(t.TempDir(), "vtsoar.db")
	env := []string{"VT_SERVER_URL=" + e.srv.URL, "VT_API_KEY=k"}
	r := vtsoar(t, env, phishIncident, "--db", db, "-o", "json", "--retries", "0", "lookup", "--extract", "-")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	en := decodeLookup(t, r)

	// Each observable once, in the order of the text, with its kind; those not
	// looked up keep their places, skipped.
	type found struct{ input, kind string }
	var got []found
	var looked []map[string]any
	for _, c := range en.ContextData {
		if c["status"] == "skipped" {
			continue
		}
		got = append(got, found{c["input"].(string), c["type"].(string)})
		looked = append(looked, c)
	}
	want := []found{
		{"hxxps://suppl1er-payments[.]com/invoice/view?id=7781", "url"},
		{"hxxp://185.220.101[.]4:8080/gate.php", "url"},
		{"44d88612fea8a8f36de82e1278abb02f", "file"},
		{eicarSHA1, "file"},
		{eicarSHA256, "file"},
		{"45.61.136(.)22", "ip"},
		{"suppl1er-payments(.)com", "domain"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("looked up\n%v\nwant\n%v", got, want)
	}
	if kinds := en.KeyFields["Kinds"]; len(kinds.([]any)) != len(en.ContextData) || len(en.ContextData) != len(want)+6 {
		t.Errorf("key_fields.Kinds %v for %d entries", kinds, len(en.ContextData))
	}
	var levels []any
	for i, l := range en.KeyFields["RiskLevels"].([]any) {
		if en.ContextData[i]["status"] != "skipped" {
			levels = append(levels, l)
		}
	}
	if levels[2] != "High" || levels[3] != "High" || levels[4] != "High" || levels[1] != "Medium" {
		t.Errorf("RiskLevels %v", levels)
	}
	for i, c := range looked {
		if c["check"] != "check-"+want[i].kind+"-reputation" || c["risk_reason"] == "" {
			t.Errorf("entry %d: %v", i, c)
		}
	}

	// What was left out, and why.
	var skipped []string
	for _, s := range en.Skipped {
		skipped = append(skipped, s.Input+" = "+s.Reason)
	}
	wantSkipped := []string{
		"10.20.30.40 = private address (RFC 1918)",
		"192.168.7.12 = private address (RFC 1918)",
		"127.0.0.1 = loopback address",
		"203.0.113.50 = documentation address (RFC 5737)",
		"https://www.microsoft.com/en-us/microsoft-365/outlook = URL on a well-known benign domain (microsoft.com)",
		"www.linkedin.com/company/acme = URL on a well-known benign domain (linkedin.com)",
		"accounts[at]suppl1er-payments[.]com = e-mail address (not an observable VirusTotal checks)",
	}
	if !slices.Equal(skipped, wantSkipped) {
		t.Errorf("skipped\n%s\nwant\n%s", strings.Join(skipped, "\n"), strings.Join(wantSkipped, "\n"))
	}

	// One request per distinct object: two URLs, one file (by its sha256 first, the
	// md5 and sha1 answered by that fetch), one IP address, one domain.
	s := e.stats(t)
	if s.Requests != 5 || s.ByEndpoint["GET /files/{id}"] != 1 || s.ByEndpoint["GET /urls/{id}"] != 2 ||
		s.ByEndpoint["GET /ip_addresses/{id}"] != 1 || s.ByEndpoint["GET /domains/{id}"] != 1 {
		t.Errorf("emulator saw %d requests: %v", s.Requests, s.ByEndpoint)
	}

	// The same text again on the same database: every answer from the cache.
	r = vtsoar(t, env, phishIncident, "--db", db, "-o", "table", "lookup", "--extract", "-")
	if r.code != 0 || e.stats(t).Requests != 5 {
		t.Errorf("second run: exit %d, %d requests in all", r.code, e.stats(t).Requests)
	}
	for _, want := range []string{"TYPE", "Not looked up (1):", "accounts[at]suppl1er-payments[.]com: e-mail address",
		"10.20.30.40", "not sent: private address (RFC 1918)", "6 skipped (nothing sent)", "--include-private or --include-benign", "(cached)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}

	// With --include-private the internal addresses are looked up too.
	r = vtsoar(t, env, phishIncident, "--db", db, "-o", "json", "lookup", "--extract", "--include-private", "-")
	en = decodeLookup(t, r)
	if len(inputs(en.envelope)) != 11 || len(en.Skipped) != 3 {
		t.Errorf("--include-private: %d looked up, %d skipped", len(inputs(en.envelope)), len(en.Skipped))
	}
}

func TestLookupLinesAndExitCodes(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	missing := find(t, "lookup-missing", func(id string) bool { return !exists(id) })
	lines := strings.Join([]string{
		"# observables from the IR channel",
		eicarMD5,
		"8.8.8.8",
		"hxxps://evil-login[.]net/index.php",
		missing,
		"see attached",
		"gone.invalid",
		"10.1.1.1",
	}, "\n")
	en, r := e.runIn(t, "k", lines, "lookup", "-")
	if r.code != 3 || en.ReturnData != "Partially Successful" {
		t.Fatalf("exit %d, %s", r.code, en.ReturnData)
	}
	if got := inputs(en); !slices.Equal(got, []string{eicarMD5, "8.8.8.8", "hxxps://evil-login[.]net/index.php", missing, "see attached"}) {
		t.Errorf("inputs %v", got)
	}
	if len(en.Errors) != 2 || en.Errors[0].FailureIndicator != "Check File Reputation failed." || en.Errors[0].Message != "File Not Found." ||
		en.Errors[1].FailureIndicator != "Lookup failed." || !strings.HasPrefix(en.Errors[1].Message, "Invalid Input.") {
		t.Errorf("errors %+v", en.Errors)
	}
	var sk lookupEnvelope
	json.Unmarshal([]byte(r.stdout), &sk)
	if len(sk.Skipped) != 2 || sk.Skipped[0].Input != "gone.invalid" || sk.Skipped[1].Include != "include_private" {
		t.Errorf("skipped %+v", sk.Skipped)
	}
	// Nothing but bad lines: a failed run, exit 1. Nothing to look up: exit 0.
	if en, r := e.runIn(t, "k", "foo bar\nbaz qux", "lookup", "-"); r.code != 1 || en.ReturnData != "Failed" {
		t.Errorf("only bad lines: exit %d %s", r.code, en.ReturnData)
	}
	if en, r := e.runIn(t, "k", "all quiet on 10.0.0.1 today", "lookup", "--extract", "-"); r.code != 0 || len(inputs(en)) != 0 || en.ReturnData != "Successful" {
		t.Errorf("nothing public in the text: exit %d, %s, %d looked up", r.code, en.ReturnData, len(inputs(en)))
	}
	// Usage errors: exit 2.
	for _, args := range [][]string{{"lookup"}, {"check-ip-reputation", "--extract", "8.8.8.8"}, {"-o", "stix", "search", "x"}} {
		if r := vtsoar(t, []string{"VT_SERVER_URL=" + e.srv.URL, "VT_API_KEY=k"}, "", args...); r.code != 2 {
			t.Errorf("%v: exit %d", args, r.code)
		}
	}
}

func TestLookupAsSTIXAndMISP(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	env := []string{"VT_SERVER_URL=" + e.srv.URL, "VT_API_KEY=k"}

	r := vtsoar(t, env, phishIncident, "-o", "stix", "lookup", "--extract", "-")
	if r.code != 0 {
		t.Fatalf("-o stix: exit %d: %s", r.code, r.stderr)
	}
	if err := stixtest.Validate([]byte(r.stdout)); err != nil {
		t.Fatalf("not valid STIX 2.1: %v", err)
	}
	var b stix.Bundle
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("the bundle does not decode: %v", err)
	}
	again, _ := stix.Marshal(&b)
	if !bytes.Equal(again, []byte(r.stdout)) {
		t.Error("the bundle changed through a decode and an encode")
	}
	count := map[string]int{}
	for _, o := range b.Objects {
		count[o.Type]++
	}
	// 7 inputs, 5 objects (EICAR thrice): the file, two URLs, the IP and the domain,
	// each with a note; indicators for EICAR (High) and the gate URL (Medium).
	if count["file"] != 1 || count["url"] != 2 || count["ipv4-addr"] != 1 || count["domain-name"] != 1 || count["note"] != 5 ||
		count["indicator"] != 2 || count["relationship"] != 2 || count["identity"] != 1 {
		t.Errorf("objects %v", count)
	}

	r = vtsoar(t, env, phishIncident, "-o", "misp", "lookup", "--extract", "-")
	if r.code != 0 {
		t.Fatalf("-o misp: exit %d: %s", r.code, r.stderr)
	}
	var d misp.Document
	dec = json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("the event does not decode: %v", err)
	}
	if again, _ := misp.Marshal(&d); !bytes.Equal(again, []byte(r.stdout)) {
		t.Error("the event changed through a decode and an encode")
	}
	tb, err := os.ReadFile("../../internal/export/misp/testdata/virustotal-report.definition.json")
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		UUID       string   `json:"uuid"`
		Required   []string `json:"required"`
		Attributes map[string]struct {
			MispAttribute string `json:"misp-attribute"`
		} `json:"attributes"`
	}
	json.Unmarshal(tb, &tpl)
	if len(d.Event.Object) != 5 {
		t.Fatalf("%d objects, want 5", len(d.Event.Object))
	}
	for _, o := range d.Event.Object {
		rel := map[string]bool{}
		for _, a := range o.Attribute {
			rel[a.ObjectRelation] = true
			if def, ok := tpl.Attributes[a.ObjectRelation]; !ok || def.MispAttribute != a.Type {
				t.Errorf("object %s: %s (%s) is not in the template", o.UUID, a.ObjectRelation, a.Type)
			}
		}
		for _, req := range tpl.Required {
			if !rel[req] {
				t.Errorf("object %s lacks the required %s", o.UUID, req)
			}
		}
		if o.TemplateUUID != tpl.UUID || len(o.ObjectReference) == 0 {
			t.Errorf("object %+v", o)
		}
	}
}

// TestLookupCrowdsourcedAndPreferredVendors runs lookup on real VirusTotal reports
// (testdata/vt, served by the emulator) with the risk policy's options: a file whose
// only finding is a crowdsourced YARA rule becomes Medium, named in the reason.
func TestLookupCrowdsourcedAndPreferredVendors(t *testing.T) {
	e := newEmu(t, vtsim.Options{DataDir: "../../testdata/vt"})
	const apk = "c99dba3ba7a50f2c04b182ba871c3f7c6ca4061542990d6e191e506404393908"   // 0 of 78, one YARA rule
	const agent = "6b60666d6ace3a450d54fe7b915c46632172ca0d4127d87873f0c111560e66cb" // 54 malicious, YARA, Sigma, IDS
	en, _ := e.run(t, "k", "lookup", apk, agent)
	if en.ContextData[0]["risk_level"] != "ZeroRisk" {
		t.Fatalf("APK with the default policy: %v", en.ContextData[0])
	}
	en, _ = e.run(t, "k", "--crowdsourced", "--preferred-vendors", "Kaspersky,BitDefender", "lookup", apk, agent)
	c0, c1 := en.ContextData[0], en.ContextData[1]
	if c0["risk_level"] != "Medium" || !strings.HasPrefix(c0["risk_reason"].(string), `crowdsourced rules: 1 YARA match: "Adobe_XMP_Identifier" (Adobe_XMP_Identifier); Medium from crowdsourced rules; `) ||
		!strings.Contains(c0["risk_reason"].(string), "no preferred vendor (Kaspersky, BitDefender) flags it malicious") {
		t.Errorf("APK: %s %q", c0["risk_level"], c0["risk_reason"])
	}
	why := c1["risk_reason"].(string)
	for _, want := range []string{"54 of 75 engines flag it malicious", `6 YARA matches: "Agenttesla_type2"`, "3 more",
		`2 Sigma matches: medium "Hidden Executable In NTFS Alternate Data Stream"`, "4 IDS matches", "flag it malicious"} {
		if !strings.Contains(why, want) {
			t.Errorf("AgentTesla's reason lacks %q: %s", want, why)
		}
	}
}
