package enrich_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

var allKinds = ioc.Kinds()

const eicarMD5 = "44d88612fea8a8f36de82e1278abb02f"

// cliVerdict runs a reputation command as the CLI does (its own client, a cache for
// this run only) and returns its context entry.
func cliVerdict(t *testing.T, serverURL string, kind ioc.Kind, value string) command.ContextEntry {
	t.Helper()
	c, err := vt.New("cli-key", vt.WithServerURL(serverURL))
	if err != nil {
		t.Fatal(err)
	}
	p, err := command.Prepare(command.Request{Command: "check-" + string(kind) + "-reputation", Inputs: []string{value}})
	if err != nil {
		t.Fatal(err)
	}
	env, err := command.Run(context.Background(), command.Deps{Client: c, Cache: cache.NewMemory()}, p)
	if err != nil {
		t.Fatal(err)
	}
	return env.ContextData[0]
}

func TestEnrichMixedEvent(t *testing.T) { eachBackend(t, testEnrichMixedEvent) }

func testEnrichMixedEvent(t *testing.T, b string) {
	e := newEnv(t, b, vtsim.Options{})
	e.addConn("a-files", "key-a", []ioc.Kind{ioc.KindFile}, nil, 0)
	e.addConn("b-net", "key-b", []ioc.Kind{ioc.KindIP, ioc.KindURL, ioc.KindDomain}, []string{"paris"}, 0)
	e.addConn("c-off", "key-c", nil, nil, 0) // every check switched off
	e.addConn("d-lyon", "key-d", allKinds, []string{"lyon"}, 0)
	s := e.service(enrich.Options{})

	arts := []enrich.Artifact{
		{Type: ioc.KindFile, Value: eicarMD5},
		{Type: ioc.KindFile, Value: "3395856ce81f2b7382dee72602f798b642f14140"}, // EICAR's sha1
		{Type: ioc.KindFile, Value: strings.Repeat("0", 64)},                    // never seen: N/A
		{Type: ioc.KindIP, Value: "8.8.8.8"},
		{Type: ioc.KindIP, Value: "2001:db8::1"}, // a documentation address: not sent
		{Type: ioc.KindURL, Value: "hxxp://vtsoar[.]net/login"},
		{Type: ioc.KindDomain, Value: "vtsoar.org"},
		{Type: ioc.KindDomain, Value: missingDomain(t)}, // not found: N/A
		{Type: ioc.KindIP, Value: "999.1.1.1"},          // invalid
	}
	for i := 0; i < 12; i++ {
		arts = append(arts, enrich.Artifact{Type: ioc.KindDomain, Value: "host" + string(rune('a'+i)) + ".vtsoar.net"})
	}
	ev, err := s.SubmitEvent(e.ctx, enrich.NewEvent{Site: "paris", Artifacts: arts})
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID == "" || ev.Status != "pending" || len(ev.Artifacts) != len(arts) {
		t.Fatalf("submitted event = %+v", ev)
	}
	done := waitDone(t, s, ev.ID, 30*time.Second)

	if done.RiskLevel != "High" || done.RiskLevelCode != 1 {
		t.Fatalf("event risk = %s (%d), want High", done.RiskLevel, done.RiskLevelCode)
	}
	var levels []risk.Level
	for i, a := range done.Artifacts {
		levels = append(levels, risk.Level(a.RiskLevelCode))
		switch {
		case i == 8:
			if a.Status != "error" || !strings.Contains(a.Error, "999") && !strings.Contains(strings.ToLower(a.Error), "ip") {
				t.Errorf("invalid IP: %+v", a)
			}
			if a.RiskLevel != "N/A" {
				t.Errorf("invalid IP risk = %s", a.RiskLevel)
			}
			continue
		case i == 2 || i == 7:
			if a.Status != "done" || a.RiskLevel != "N/A" || !strings.Contains(a.RiskReason, "Not Found") {
				t.Errorf("unknown object %s: %+v", a.Value, a)
			}
			continue
		case i == 4:
			if a.Status != "done" || a.RiskLevel != "N/A" || a.Connection != "" ||
				a.RiskReason != "Not sent to VirusTotal: documentation address (RFC 3849)." {
				t.Errorf("documentation address: %+v", a)
			}
			continue
		}
		if a.Status != "done" {
			t.Errorf("artifact %d %s: %+v", i, a.Value, a)
			continue
		}
		wantConn := "b-net"
		if a.Type == ioc.KindFile {
			wantConn = "a-files"
		}
		if a.Connection != wantConn {
			t.Errorf("artifact %s enriched by %q, want %q", a.Value, a.Connection, wantConn)
		}
		cli := cliVerdict(t, e.srv.URL, a.Type, a.Value)
		if cli.Status != command.StatusOK { // not found: N/A, with the reason
			if a.RiskLevel != "N/A" || cli.RiskLevel != "N/A" || !strings.Contains(a.RiskReason, "Not Found") {
				t.Errorf("artifact %s: %s %q, the CLI says %s (%s)", a.Value, a.RiskLevel, a.RiskReason, cli.RiskLevel, cli.Error)
			}
			continue
		}
		if a.RiskLevel != cli.RiskLevel || a.RiskLevelCode != cli.RiskLevelCode || a.RiskReason != cli.RiskReason || a.ObjectID != cli.ID {
			t.Errorf("artifact %s: %s %q (id %s), the CLI says %s %q (id %s)", a.Value, a.RiskLevel, a.RiskReason, a.ObjectID,
				cli.RiskLevel, cli.RiskReason, cli.ID)
		}
	}
	if done.Artifacts[0].RiskLevel != "High" || done.Artifacts[1].RiskLevel != "High" {
		t.Errorf("EICAR by md5 and sha1: %s, %s", done.Artifacts[0].RiskLevel, done.Artifacts[1].RiskLevel)
	}
	if want := risk.Highest(levels...); done.RiskLevelCode != want.Code() {
		t.Errorf("event risk %d, highest of artifacts %d", done.RiskLevelCode, want.Code())
	}
	if n := e.count.key("key-c"); n != 0 {
		t.Errorf("connection with every check off sent %d requests", n)
	}
	if n := e.count.key("key-d"); n != 0 {
		t.Errorf("connection of another site sent %d requests", n)
	}
	if n := e.count.paths()["GET /api/v3/ip_addresses/2001:db8::1"]; n != 0 {
		t.Errorf("the documentation address was sent %d times", n)
	}
	// EICAR by md5 then by sha1: one fetch (the cache knows the aliases), unless both
	// were in flight at once.
	if n := e.count.key("key-a"); n < 1 || n > 3 {
		t.Errorf("file connection sent %d requests for 3 files", n)
	}
}

func TestEnrichSiteScoping(t *testing.T) { eachBackend(t, testEnrichSiteScoping) }

func testEnrichSiteScoping(t *testing.T, b string) {
	e := newEnv(t, b, vtsim.Options{})
	e.addConn("paris-net", "key-p", allKinds, []string{"paris"}, 0)
	e.addConn("shared-files", "key-s", []ioc.Kind{ioc.KindFile}, []string{"*"}, 0)
	s := e.service(enrich.Options{})
	ev, err := s.SubmitEvent(e.ctx, enrich.NewEvent{Site: "lyon", Artifacts: []enrich.Artifact{
		{Type: ioc.KindIP, Value: "1.2.3.4"},
		{Type: ioc.KindFile, Value: eicarMD5},
	}})
	if err != nil {
		t.Fatal(err)
	}
	done := waitDone(t, s, ev.ID, 20*time.Second)
	ip, file := done.Artifacts[0], done.Artifacts[1]
	if ip.Status != "error" || !strings.Contains(ip.Error, "no connection") || !strings.Contains(ip.Error, "lyon") {
		t.Errorf("ip of site lyon: %+v", ip)
	}
	if file.Status != "done" || file.Connection != "shared-files" || file.RiskLevel != "High" {
		t.Errorf("file of site lyon: %+v", file)
	}
	if n := e.count.key("key-p"); n != 0 {
		t.Errorf("paris connection sent %d requests for a lyon event", n)
	}
	if done.RiskLevel != "High" {
		t.Errorf("event risk %s", done.RiskLevel)
	}

	// Listing by site.
	if _, err := s.SubmitEvent(e.ctx, enrich.NewEvent{Site: "paris", Artifacts: []enrich.Artifact{{Type: ioc.KindIP, Value: "1.2.3.4"}}}); err != nil {
		t.Fatal(err)
	}
	lyon, err := s.ListEvents(e.ctx, store.EventFilter{Sites: []string{"lyon"}}, store.Page{Limit: 10})
	if err != nil || len(lyon) != 1 || lyon[0].ID != ev.ID {
		t.Fatalf("ListEvents(lyon) = %+v, %v", lyon, err)
	}
	all, err := s.ListEvents(e.ctx, store.EventFilter{}, store.Page{Limit: 10})
	if err != nil || len(all) != 2 {
		t.Fatalf("ListEvents(all) = %d events, %v", len(all), err)
	}
	if _, err := s.GetEvent(e.ctx, "ev_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEvent(missing) err = %v", err)
	}
}

func TestSubmitEventValidation(t *testing.T) { eachBackend(t, testSubmitEventValidation) }

func testSubmitEventValidation(t *testing.T, b string) {
	e := newEnv(t, b, vtsim.Options{})
	s := e.service(enrich.Options{})
	for name, ev := range map[string]enrich.NewEvent{
		"no artifacts":      {Site: "x"},
		"unknown type":      {Artifacts: []enrich.Artifact{{Type: "email", Value: "a@b.c"}}},
		"empty value":       {Artifacts: []enrich.Artifact{{Type: ioc.KindIP, Value: " "}}},
		"file id of an ip":  {Artifacts: []enrich.Artifact{{Type: ioc.KindIP, FileID: "f_1"}}},
		"file id and value": {Artifacts: []enrich.Artifact{{Type: ioc.KindFile, Value: "44d88612fea8a8f36de82e1278abb02f", FileID: "f_1"}}},
		"unknown file id":   {Artifacts: []enrich.Artifact{{Type: ioc.KindFile, FileID: "f_missing"}}},
	} {
		if _, err := s.SubmitEvent(e.ctx, ev); !errors.Is(err, enrich.ErrInvalidEvent) {
			t.Errorf("%s: err = %v, want ErrInvalidEvent", name, err)
		}
	}
	if evs, _ := s.ListEvents(e.ctx, store.EventFilter{}, store.Page{Limit: 10}); len(evs) != 0 {
		t.Errorf("rejected events were stored: %+v", evs)
	}
}

// TestSpentBudgetDefersToReset: with a budget of 3 requests a day, 3 artifacts are
// enriched and the others wait for the reset (their jobs snoozed until midnight UTC)
// instead of failing.
func TestSpentBudgetDefersToReset(t *testing.T) { eachBackend(t, testSpentBudgetDefersToReset) }

func testSpentBudgetDefersToReset(t *testing.T, b string) {
	e := newEnv(t, b, vtsim.Options{})
	sealed, _ := connclient.SealKey(e.cipher, "small", "k-small")
	if err := e.st.CreateConnection(e.ctx, store.Connection{Name: "small", SealedAPIKey: sealed, ServerURL: e.srv.URL,
		Quota: "3/day", ReputationChecks: allKinds}); err != nil {
		t.Fatal(err)
	}
	s := e.service(enrich.Options{})
	var arts []enrich.Artifact
	for i := 1; i <= 5; i++ {
		arts = append(arts, enrich.Artifact{Type: ioc.KindIP, Value: "45.61.136." + strconv.Itoa(i)})
	}
	ev, err := s.SubmitEvent(e.ctx, enrich.NewEvent{Artifacts: arts})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var got enrich.Event
	for {
		if got, err = s.GetEvent(e.ctx, ev.ID); err != nil {
			t.Fatal(err)
		}
		snoozed := 0
		rows, err := e.st.(store.SQLDB).DB().QueryContext(e.ctx,
			`SELECT scheduled_at FROM river_job WHERE kind = 'vtsoar.enrich_artifact' AND state = 'scheduled'`)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		reset := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
		for rows.Next() {
			var at time.Time
			if err := rows.Scan(&at); err != nil {
				t.Fatal(err)
			}
			if at.After(reset.Add(-time.Second)) && at.Before(reset.Add(5*time.Second)) {
				snoozed++
			}
		}
		rows.Close()
		if got.ArtifactsDone == 3 && snoozed == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: %d done, %d jobs snoozed, event %+v", got.ArtifactsDone, snoozed, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got.Status != "enriching" {
		t.Errorf("event status %s, want enriching", got.Status)
	}
	for _, a := range got.Artifacts {
		if a.Status == "error" {
			t.Errorf("artifact %s failed instead of waiting: %s", a.Value, a.Error)
		}
	}
	if n := e.count.key("k-small"); n != 3 {
		t.Errorf("%d requests on a budget of 3", n)
	}
}

// A service that was never started stops at once, without an error (a serve that
// fails before it starts the work still stops it).
func TestStopWithoutStart(t *testing.T) {
	e := newEnv(t, backendSQLite, vtsim.Options{})
	s, err := enrich.New(e.ctx, e.st, enrich.Options{Cipher: e.cipher})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
}

// missingDomain is a public domain the emulator's universe does not have: the first
// byte of SHA-256 of its name is below 0x10.
func missingDomain(t *testing.T) string {
	t.Helper()
	for i := range 10000 {
		d := fmt.Sprintf("absent%d.com", i)
		if sum := sha256.Sum256([]byte(d)); sum[0] < 0x10 {
			return d
		}
	}
	t.Fatal("no missing domain")
	return ""
}

// TestPrivateArtifactsAreNotSent: the System Reputation Check leaves private,
// loopback, link-local and documentation addresses and reserved names (and URLs on
// them) at N/A with the reason, done, with no request to VirusTotal and no unit of
// any budget spent.
func TestPrivateArtifactsAreNotSent(t *testing.T) { eachBackend(t, testPrivateArtifactsAreNotSent) }

func testPrivateArtifactsAreNotSent(t *testing.T, b string) {
	e := newEnv(t, b, vtsim.Options{})
	e.addConn("all", "key-all", allKinds, nil, 0)
	s := e.service(enrich.Options{})
	arts := []enrich.Artifact{
		{Type: ioc.KindIP, Value: "127.0.0.1"},
		{Type: ioc.KindIP, Value: "10.1.2.3"},
		{Type: ioc.KindIP, Value: "169.254.10.1"},
		{Type: ioc.KindIP, Value: "192.0.2.7"},
		{Type: ioc.KindURL, Value: "http://192.168.1.1/admin"},
		{Type: ioc.KindDomain, Value: "printer.local"},
		{Type: ioc.KindDomain, Value: "example.com"},
	}
	ev, err := s.SubmitEvent(e.ctx, enrich.NewEvent{Site: "paris", Artifacts: arts})
	if err != nil {
		t.Fatal(err)
	}
	done := waitDone(t, s, ev.ID, 30*time.Second)
	for _, a := range done.Artifacts {
		if a.Status != "done" || a.RiskLevel != "N/A" || !strings.HasPrefix(a.RiskReason, "Not sent to VirusTotal: ") || a.Connection != "" {
			t.Errorf("%s: %+v", a.Value, a)
		}
	}
	if done.RiskLevel != "N/A" {
		t.Errorf("event risk %s, want N/A", done.RiskLevel)
	}
	if n := e.count.key("key-all"); n != 0 {
		t.Errorf("%d requests to VirusTotal for private artifacts", n)
	}
	// A connection that includes them sends them: the artifact is answered through it.
	e.addConn("private-ok", "key-private", allKinds, nil, 0)
	c, err := e.st.GetConnection(e.ctx, "private-ok")
	if err != nil {
		t.Fatal(err)
	}
	c.IncludePrivate = true
	if err := e.st.UpdateConnection(e.ctx, c); err != nil {
		t.Fatal(err)
	}
	ev, err = s.SubmitEvent(e.ctx, enrich.NewEvent{Site: "paris", Artifacts: []enrich.Artifact{{Type: ioc.KindIP, Value: "10.1.2.3"}}})
	if err != nil {
		t.Fatal(err)
	}
	done = waitDone(t, s, ev.ID, 30*time.Second)
	if a := done.Artifacts[0]; a.Status != "done" || a.Connection != "private-ok" || a.RiskLevel == "" || strings.HasPrefix(a.RiskReason, "Not sent") {
		t.Errorf("private artifact with a connection that includes them: %+v", a)
	}
	if e.count.key("key-private") == 0 || e.count.key("key-all") != 0 {
		t.Errorf("requests: %d through private-ok, %d through all", e.count.key("key-private"), e.count.key("key-all"))
	}
}
