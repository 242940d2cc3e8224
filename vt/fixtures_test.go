package vt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

// fixtureTests replays every file of ../testdata/vt through an httptest
// server and the client's public calls. TestFixturesAllCovered keeps the table in step
// with the directory.
var fixtureTests = map[string]func(t *testing.T, body []byte){
	"analysis_file_docs.json":                           testAnalysisFileFixture,
	"analysis_url_docs.json":                            testAnalysisURLFixture,
	"behaviour_report_sysinternals_msticpy.json":        testBehaviourReportFixture,
	"behaviour_summary_data_only_msticpy.json":          testBehaviourSummaryDataOnlyFixture,
	"behaviour_summary_docs.json":                       testBehaviourSummaryDocsFixture,
	"domain_report_demisto.json":                        testDomainFixture(":domain_id:", 8, -1),
	"domain_report_opencti.json":                        testDomainFixture("tawuhoju.com", 6, -37),
	"domain_report_with_relationships_demisto.json":     testDomainRelationshipsFixture,
	"error_authentication_required_docs.json":           testErrorFixture(401, CodeAuthenticationRequired, "X-Apikey header is missing", IsWrongCredentials),
	"error_not_found_docs.json":                         testErrorFixture(404, CodeNotFound, `URL "thisurlidmakesnosenseatall" not found`, IsNotFound),
	"error_quota_exceeded_mock.json":                    testErrorFixture(429, CodeQuotaExceeded, "Quota exceeded", IsQuotaExceeded),
	"error_wrong_credentials_mock.json":                 testErrorFixture(401, CodeWrongCredentials, "Wrong API key", IsWrongCredentials),
	"file_report_android_apk.json":                      testFileFixture("1dc20cdd6c68a86b61c4e273eafde1a4", 0, 79),
	"file_report_crowdsourced.json":                     testFileFixture("e2a52f78fc1dc2eb561fd5d77892d642", 54, 79),
	"file_report_demisto_minimal.json":                  testFileMinimalFixture,
	"file_report_elf.json":                              testFileFixture("50536fed8bbc478d12a057948ca73f98", 0, 79),
	"file_report_lnk.json":                              testFileFixture("d8d3b290eaa1ef7bcac8c2d95bab676e", 0, 79),
	"file_report_pdf.json":                              testFileFixture("30c1e5c07d4434849f11372fc0a10a18", 0, 79),
	"file_report_win32_dll.json":                        testFileFixture("2a0ac716254c23667b8a223a6e5f6e13", 0, 79),
	"file_report_win32_dll_opencti.json":                testFileFixture("546bb6ef89bebfb053999777f6930d7e", 47, 74),
	"ip_report_demisto.json":                            testIPFixture("23.129.64.215", 5, -4),
	"ip_report_opencti.json":                            testIPFixture("138.128.150.133", 4, 1),
	"relationships_ip_communicating_files_demisto.json": testCommunicatingFilesFixture,
	"relationships_ip_files_demisto.json":               testIPFilesDescriptorsFixture,
	"relationships_ip_resolutions.json":                 testResolutionsFixture,
	"search_comments_docs.json":                         testSearchFixture,
	"url_report_demisto.json":                           testURLFixture("1234", 7, 0),
	"url_report_opencti.json":                           testURLFixture("7d83e9f686ff0122ded311f27aababf6922800a45a23a4dacc860b56ccada4cb", 11, -154),
	"user_docs.json":                                    testUserFixture,
	"widget_url_docs.json":                              testWidgetFixture,
	"yara_ruleset_opencti.json":                         testYaraFixture,
	"comments_file_docs.json":                           testCommentsFixture,
	"votes_file_docs.json":                              testVotesFixture,
	"user_votes_file_docs.json":                         testUserVotesFixture,
	"network_location_domain_docs.json":                 testNetworkLocationFixture,
	"url_analyse_docs.json":                             testURLAnalyseFixture,
	"download_url_docs.json":                            testDownloadURLFixture,
	"overall_quotas_demisto.json":                       testOverallQuotasFixture,
	"error_too_many_requests_docs.json":                 testTooManyRequestsFixture,
	"error_deadline_exceeded_docs.json":                 testErrorFixture(504, CodeDeadlineExceeded, "The operation took too long to complete.", IsTransient),
	"error_transient_docs.json":                         testErrorFixture(503, CodeTransient, "Transient server error. Retry might work.", IsTransient),
}

func TestFixturesAllCovered(t *testing.T) {
	entries, err := os.ReadDir(fixturesDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			onDisk = append(onDisk, e.Name())
		}
	}
	for _, name := range onDisk {
		if fixtureTests[name] == nil {
			t.Errorf("fixture %s is not replayed by any test", name)
		}
	}
	for name := range fixtureTests {
		if !slices.Contains(onDisk, name) {
			t.Errorf("test table names %s, which is not in the fixtures directory", name)
		}
	}
}

func TestFixtures(t *testing.T) {
	fixturesDir(t)
	for name, test := range fixtureTests {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			test(t, fixture(t, name))
		})
	}
}

// checkStats compares decoded stats with the fixture's, read generically.
func checkStats(t *testing.T, got *AnalysisStats, want any) {
	t.Helper()
	if got == nil {
		t.Fatal("stats not decoded")
	}
	w, ok := want.(map[string]any)
	if !ok {
		t.Fatal("fixture has no stats")
	}
	pairs := map[string]int{
		"harmless": got.Harmless, "malicious": got.Malicious, "suspicious": got.Suspicious,
		"undetected": got.Undetected, "timeout": got.Timeout, "confirmed-timeout": got.ConfirmedTimeout,
		"failure": got.Failure, "type-unsupported": got.TypeUnsupported,
	}
	for k, g := range pairs {
		if jint(w[k]) != g {
			t.Errorf("stats %s = %d, fixture says %v", k, g, w[k])
		}
	}
}

// checkResults compares decoded engine results with the fixture's.
func checkResults(t *testing.T, got map[string]EngineResult, want any) {
	t.Helper()
	w, _ := want.(map[string]any)
	if len(got) != len(w) || len(got) == 0 {
		t.Fatalf("%d engine results, fixture has %d", len(got), len(w))
	}
	for engine, raw := range w {
		g, ok := got[engine]
		if !ok {
			t.Errorf("engine %s missing", engine)
			continue
		}
		if g.Category != jget(raw, "category") || g.EngineName != jget(raw, "engine_name") {
			t.Errorf("engine %s = %+v, fixture %v", engine, g, raw)
		}
		wr, _ := jget(raw, "result").(string)
		if (g.Result == nil) != (jget(raw, "result") == nil) || (g.Result != nil && *g.Result != wr) {
			t.Errorf("engine %s result = %v, fixture %v", engine, g.Result, jget(raw, "result"))
		}
	}
}

func checkRaw(t *testing.T, raw, body []byte) {
	t.Helper()
	if !bytes.Equal(raw, body) {
		t.Errorf("Raw is not the untouched body (%d bytes vs %d)", len(raw), len(body))
	}
}

func testFileFixture(md5 string, malicious, engines int) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		g := generic(t, body)
		sha := jget(g, "data", "id").(string)
		c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
		f, err := c.GetFile(context.Background(), sha)
		if err != nil {
			t.Fatalf("GetFile: %v", err)
		}
		wantRequest(t, rec.last(), "GET", "/api/v3/files/"+sha)
		a := jget(g, "data", "attributes")
		if f.ID != sha || f.Type != "file" || f.Attributes.SHA256 != sha || f.Attributes.MD5 != md5 ||
			f.Attributes.SHA1 != jget(a, "sha1") || f.Attributes.Size != int64(jint(jget(a, "size"))) {
			t.Errorf("ids: id %s type %s sha256 %s md5 %s sha1 %s size %d", f.ID, f.Type, f.Attributes.SHA256, f.Attributes.MD5, f.Attributes.SHA1, f.Attributes.Size)
		}
		if f.Attributes.LastAnalysisStats == nil || f.Attributes.LastAnalysisStats.Malicious != malicious {
			t.Errorf("malicious = %+v, want %d", f.Attributes.LastAnalysisStats, malicious)
		}
		checkStats(t, f.Attributes.LastAnalysisStats, jget(a, "last_analysis_stats"))
		if len(f.Attributes.LastAnalysisResults) != engines {
			t.Errorf("%d engine results, want %d", len(f.Attributes.LastAnalysisResults), engines)
		}
		checkResults(t, f.Attributes.LastAnalysisResults, jget(a, "last_analysis_results"))
		if f.Attributes.Reputation != jint(jget(a, "reputation")) || int64(f.Attributes.LastAnalysisDate) != int64(jint(jget(a, "last_analysis_date"))) {
			t.Errorf("reputation %d, last_analysis_date %d", f.Attributes.Reputation, f.Attributes.LastAnalysisDate)
		}
		if f.Attributes.TypeTag != jget(a, "type_tag") || f.Attributes.MeaningfulName != orEmpty(jget(a, "meaningful_name")) {
			t.Errorf("type_tag %q meaningful_name %q", f.Attributes.TypeTag, f.Attributes.MeaningfulName)
		}
		checkRaw(t, f.Raw, body)
		if !json.Valid(f.Object.Attributes) || jget(generic(t, f.Object.Attributes), "sha256") != sha {
			t.Error("Attributes is not the object's attributes")
		}
	}
}

func orEmpty(v any) string { s, _ := v.(string); return s }

func testFileMinimalFixture(t *testing.T, body []byte) {
	// type, id and links sit beside "data": they fill what "data" lacks.
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	id := "8739c76e681f900923b900c9df0ef75cf421d39cabb54650c4b9ad19b6a76d85"
	f, err := c.GetFile(context.Background(), "76cdb2bad9582d23c1f6f4d868218d6c")
	if err != nil {
		t.Fatalf("GetFile: %v", err)
	}
	if f.ID != id || f.Type != "file" || f.Links.Self != "https://www.virustotal.com/api/v3/files/"+id {
		t.Errorf("top-level id/type/links not used: %q %q %+v", f.ID, f.Type, f.Links)
	}
	if f.Attributes.MD5 != "76cdb2bad9582d23c1f6f4d868218d6c" || f.Attributes.Reputation != -889 {
		t.Errorf("md5 %q reputation %d", f.Attributes.MD5, f.Attributes.Reputation)
	}
	s := f.Attributes.LastAnalysisStats
	if s == nil || s.TypeUnsupported != 8 || s.Undetected != 59 || s.Total() != 67 {
		t.Errorf("stats %+v", s)
	}
	if r := f.Attributes.LastAnalysisResults["AVG"]; r.Category != "undetected" || r.Result != nil || len(f.Attributes.LastAnalysisResults) != 1 {
		t.Errorf("results %+v", f.Attributes.LastAnalysisResults)
	}
	checkRaw(t, f.Raw, body)
}

func testURLFixture(id string, malicious, reputation int) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		g := generic(t, body)
		a := jget(g, "data", "attributes")
		rels := jget(g, "data", "relationships")
		var relNames []string
		if m, ok := rels.(map[string]any); ok {
			for k := range m {
				relNames = append(relNames, k)
			}
		}
		slices.Sort(relNames)
		c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
		var opts []GetOption
		if len(relNames) > 0 {
			opts = append(opts, WithRelationships(relNames...))
		}
		u, err := c.GetURL(context.Background(), id, opts...)
		if err != nil {
			t.Fatalf("GetURL: %v", err)
		}
		wantRequest(t, rec.last(), "GET", "/api/v3/urls/"+id)
		if got := rec.last().URL.Query().Get("relationships"); got != strings.Join(relNames, ",") {
			t.Errorf("?relationships=%q, want %q", got, strings.Join(relNames, ","))
		}
		if u.ID != id || u.Type != "url" || u.Attributes.URL != jget(a, "url") || u.Attributes.Reputation != reputation {
			t.Errorf("id %q type %q url %q reputation %d", u.ID, u.Type, u.Attributes.URL, u.Attributes.Reputation)
		}
		if u.Attributes.LastAnalysisStats.Malicious != malicious {
			t.Errorf("malicious %d, want %d", u.Attributes.LastAnalysisStats.Malicious, malicious)
		}
		checkStats(t, u.Attributes.LastAnalysisStats, jget(a, "last_analysis_stats"))
		checkResults(t, u.Attributes.LastAnalysisResults, jget(a, "last_analysis_results"))
		if len(u.Attributes.Categories) != len(jget(a, "categories").(map[string]any)) || u.Attributes.LastFinalURL != jget(a, "last_final_url") {
			t.Errorf("categories %v last_final_url %q", u.Attributes.Categories, u.Attributes.LastFinalURL)
		}
		for _, n := range relNames {
			if _, ok := u.Relationships[n]; !ok {
				t.Errorf("relationship %s not kept", n)
			}
		}
		checkRaw(t, u.Raw, body)
	}
}

func testDomainFixture(id string, malicious, reputation int) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		g := generic(t, body)
		a := jget(g, "data", "attributes")
		if reputation == -1 {
			reputation = jint(jget(a, "reputation"))
		}
		c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
		d, err := c.GetDomain(context.Background(), id)
		if err != nil {
			t.Fatalf("GetDomain: %v", err)
		}
		wantRequest(t, rec.last(), "GET", "/api/v3/domains/"+id)
		if d.ID != id || d.Type != "domain" || d.Attributes.Reputation != reputation || d.Attributes.LastAnalysisStats.Malicious != malicious {
			t.Errorf("id %q type %q reputation %d stats %+v", d.ID, d.Type, d.Attributes.Reputation, d.Attributes.LastAnalysisStats)
		}
		checkStats(t, d.Attributes.LastAnalysisStats, jget(a, "last_analysis_stats"))
		checkResults(t, d.Attributes.LastAnalysisResults, jget(a, "last_analysis_results"))
		if d.Attributes.Registrar != orEmpty(jget(a, "registrar")) || d.Attributes.Whois != orEmpty(jget(a, "whois")) ||
			int64(d.Attributes.CreationDate) != int64(jint(jget(a, "creation_date"))) {
			t.Errorf("registrar %q creation %d whois %d bytes", d.Attributes.Registrar, d.Attributes.CreationDate, len(d.Attributes.Whois))
		}
		checkRaw(t, d.Raw, body)
	}
}

func testDomainRelationshipsFixture(t *testing.T, body []byte) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	d, err := c.GetDomain(context.Background(), ":domain_id:", WithRelationships("Siblings", "subdomains"))
	if err != nil {
		t.Fatalf("GetDomain: %v", err)
	}
	if got := rec.last().URL.Query().Get("relationships"); got != "siblings,subdomains" {
		t.Errorf("?relationships=%q", got)
	}
	var sub struct {
		Data []struct{ ID, Type string } `json:"data"`
	}
	if err := json.Unmarshal(d.Relationships["subdomains"], &sub); err != nil || len(sub.Data) == 0 || sub.Data[0].Type != "domain" {
		t.Errorf("subdomains relationship: %v %+v", err, sub)
	}
	if _, ok := d.Relationships["siblings"]; !ok {
		t.Error("siblings relationship missing")
	}
	if d.Attributes.LastAnalysisStats.Malicious != 8 || d.Attributes.LastAnalysisStats.Harmless != 83 {
		t.Errorf("stats %+v", d.Attributes.LastAnalysisStats)
	}
}

func testIPFixture(ip string, malicious, reputation int) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		a := jget(generic(t, body), "data", "attributes")
		c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
		o, err := c.GetIPAddress(context.Background(), ip)
		if err != nil {
			t.Fatalf("GetIPAddress: %v", err)
		}
		wantRequest(t, rec.last(), "GET", "/api/v3/ip_addresses/"+ip)
		if o.ID != ip || o.Type != "ip_address" || o.Attributes.Reputation != reputation || o.Attributes.LastAnalysisStats.Malicious != malicious {
			t.Errorf("id %q type %q reputation %d stats %+v", o.ID, o.Type, o.Attributes.Reputation, o.Attributes.LastAnalysisStats)
		}
		checkStats(t, o.Attributes.LastAnalysisStats, jget(a, "last_analysis_stats"))
		checkResults(t, o.Attributes.LastAnalysisResults, jget(a, "last_analysis_results"))
		if o.Attributes.ASN != jint(jget(a, "asn")) || o.Attributes.ASOwner != jget(a, "as_owner") || o.Attributes.Country != orEmpty(jget(a, "country")) || o.Attributes.Network != orEmpty(jget(a, "network")) {
			t.Errorf("asn %d owner %q country %q network %q", o.Attributes.ASN, o.Attributes.ASOwner, o.Attributes.Country, o.Attributes.Network)
		}
		checkRaw(t, o.Raw, body)
	}
}

func testErrorFixture(status int, code, message string, is func(error) bool) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		spy := &limiterSpy{}
		c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, status, body) },
			WithRetry(RetryPolicy{MaxAttempts: 1}), WithLimiter(spy))
		_, err := c.GetFile(context.Background(), "44d88612fea8a8f36de82e1278abb02f")
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("err = %v (%T), want *Error", err, err)
		}
		if e.StatusCode != status || e.Code != code || e.Message != message || e.Method != "GET" || e.Path != "/files/{id}" {
			t.Errorf("error = %+v", e)
		}
		if !is(err) {
			t.Errorf("helper does not recognise %v", err)
		}
		if got := err.Error(); !strings.HasPrefix(got, "virustotal: GET /files/{id}: ") || !strings.Contains(got, code+": "+message) {
			t.Errorf("Error() = %q", got)
		}
		if rec.count() != 1 {
			t.Errorf("%d requests, want 1", rec.count())
		}
		if status == 429 && (len(spy.throttled) != 1) {
			t.Errorf("Throttled called %d times on 429", len(spy.throttled))
		}
		if status != 429 && len(spy.throttled) != 0 {
			t.Errorf("Throttled called on %d", status)
		}
	}
}

func testAnalysisFileFixture(t *testing.T, body []byte) {
	id := "8zc5dTFiYmMxOTEpNzMzZWZmODE1ND7mYjU1ZjY5Npk6MTU5MlcwMTM2Mw=="
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	a, err := c.GetAnalysis(context.Background(), id)
	if err != nil {
		t.Fatalf("GetAnalysis: %v", err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/analyses/"+id) // '=' stays unescaped in a path
	if a.ID != id || a.Type != "analysis" || a.Status != AnalysisInProgress || a.Date != 1591701363 {
		t.Errorf("id %q type %q status %q date %d", a.ID, a.Type, a.Status, a.Date)
	}
	if a.Stats.Malicious != 5 || a.Stats.Undetected != 1 || a.Stats.Total() != 6 || len(a.Results) != 6 {
		t.Errorf("stats %+v, %d results", a.Stats, len(a.Results))
	}
	if r := a.Results["ALYac"]; r.Result == nil || *r.Result != "Dialer.Webdialer.F" || r.Method != "blacklist" || r.EngineVersion != "1.1.1.5" {
		t.Errorf("ALYac = %+v", r)
	}
	if r := a.Results["Avast-Mobile"]; r.Result != nil || r.Category != "undetected" {
		t.Errorf("Avast-Mobile = %+v", r)
	}
	if a.ItemID != "" {
		t.Errorf("ItemID = %q from an answer without meta or links.item", a.ItemID)
	}
	checkRaw(t, a.Raw, body)
}

func testAnalysisURLFixture(t *testing.T, body []byte) {
	g := generic(t, body)
	id := jget(g, "data", "id").(string)
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	a, err := c.GetAnalysis(context.Background(), id)
	if err != nil {
		t.Fatalf("GetAnalysis: %v", err)
	}
	if a.Status != AnalysisCompleted || a.ID != id {
		t.Errorf("status %q id %q", a.Status, a.ID)
	}
	checkStats(t, &a.Stats, jget(g, "data", "attributes", "stats"))
	checkResults(t, a.Results, jget(g, "data", "attributes", "results"))
}

func testBehaviourSummaryDocsFixture(t *testing.T, body []byte) {
	d := jget(generic(t, body), "data")
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	s, err := c.GetBehaviourSummary(context.Background(), "44d88612fea8a8f36de82e1278abb02f")
	if err != nil {
		t.Fatalf("GetBehaviourSummary: %v", err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/files/44d88612fea8a8f36de82e1278abb02f/behaviour_summary")
	if !slices.Equal(s.Tags, []string{"DIRECT_CPU_CLOCK_ACCESS", "RUNTIME_MODULES"}) {
		t.Errorf("tags %v", s.Tags)
	}
	if len(s.MutexesCreated) != len(jget(d, "mutexes_created").([]any)) || len(s.MutexesCreated) == 0 {
		t.Errorf("%d mutexes", len(s.MutexesCreated))
	}
	checkRaw(t, s.Raw, body)
}

func testBehaviourSummaryDataOnlyFixture(t *testing.T, body []byte) {
	d := generic(t, body)
	wrapped := append(append([]byte(`{"data": `), body...), '}')
	for _, tc := range []struct {
		name string
		body []byte
	}{{"wire format", wrapped}, {"without envelope", body}} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, tc.body) })
			s, err := c.GetBehaviourSummary(context.Background(), "03bd9a94482f180bb047626cb2f27ccf8daa0e201345480b43585580e09c311b")
			if err != nil {
				t.Fatalf("GetBehaviourSummary: %v", err)
			}
			if !slices.Equal(s.Verdicts, []string{"MALWARE"}) {
				t.Errorf("verdicts %v", s.Verdicts)
			}
			for name, got := range map[string]int{
				"processes_created": len(s.ProcessesCreated), "command_executions": len(s.CommandExecutions),
				"files_written": len(s.FilesWritten), "files_deleted": len(s.FilesDeleted),
				"mutexes_created": len(s.MutexesCreated), "tags": len(s.Tags),
			} {
				if want := len(jget(d, name).([]any)); got != want || got == 0 {
					t.Errorf("%s: %d entries, fixture has %d", name, got, want)
				}
			}
			var dns []struct {
				Hostname    string   `json:"hostname"`
				ResolvedIPs []string `json:"resolved_ips"`
			}
			if err := json.Unmarshal(s.DNSLookups, &dns); err != nil || len(dns) == 0 || dns[0].Hostname != "sanctam.net" {
				t.Errorf("dns_lookups %v %+v", err, dns)
			}
			if len(s.IPTraffic) == 0 || len(s.RegistryKeysSet) == 0 {
				t.Error("ip_traffic or registry_keys_set not kept")
			}
			checkRaw(t, s.Raw, tc.body)
		})
	}
}

// pageOf wraps objects into a collection answer.
func pageOf(cursor string, objects ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"data": [`)
	b.Write(bytes.Join(objects, []byte(",")))
	b.WriteString(`]`)
	if cursor != "" {
		b.WriteString(`, "meta": {"cursor": "` + cursor + `"}`)
	}
	b.WriteString(`}`)
	return b.Bytes()
}

func testBehaviourReportFixture(t *testing.T, body []byte) {
	// One element of the "behaviours" relationship of a file: served in a page.
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, pageOf("", body)) })
	p, err := c.RelationshipPage(context.Background(), MustRelationship(CollectionFiles, "behaviours"), "abc", ListOptions{})
	if err != nil {
		t.Fatalf("RelationshipPage: %v", err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/files/abc/behaviours")
	g := generic(t, body)
	if len(p.Objects) != 1 || p.Objects[0].Type != "file_behaviour" || p.Objects[0].ID != jget(g, "id") {
		t.Fatalf("objects %+v", p.Objects)
	}
	var a struct {
		SandboxName string `json:"sandbox_name"`
	}
	if err := json.Unmarshal(p.Objects[0].Attributes, &a); err != nil || a.SandboxName != "Microsoft Sysinternals" {
		t.Errorf("sandbox_name %q %v", a.SandboxName, err)
	}
	checkRaw(t, p.Objects[0].Raw, body)
	// The bare object as a whole answer is accepted too.
	o, _, err := decodeObjectBody(body)
	if err != nil || o.ID != jget(g, "id") {
		t.Errorf("bare object: %v %q", err, o.ID)
	}
}

func testYaraFixture(t *testing.T, body []byte) {
	// A yara_ruleset object, as listed by a file's crowdsourced_yara_rulesets relationship.
	data := jget(generic(t, body), "data")
	raw, _ := json.Marshal(data)
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, pageOf("", raw)) })
	var n int
	for o, err := range c.Relationship(context.Background(), Relationship{Collection: CollectionFiles, Name: "crowdsourced_yara_rulesets"}, "abc", ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if o.Type != "yara_ruleset" || o.ID != "00888403c4" || o.Links.Self == "" {
			t.Errorf("object %s %s %+v", o.Type, o.ID, o.Links)
		}
		var a struct {
			Name  string `json:"name"`
			Rules string `json:"rules"`
		}
		if err := json.Unmarshal(o.Attributes, &a); err != nil || a.Rules == "" || a.Name != jget(data, "attributes", "name") {
			t.Errorf("attributes %v %q", err, a.Name)
		}
	}
	if n != 1 {
		t.Errorf("%d objects", n)
	}
}

func testCommunicatingFilesFixture(t *testing.T, body []byte) {
	// Hand-edited capture: last_analysis_stats, md5... sit beside "attributes". They are
	// merged into the attributes.
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	p, err := c.RelationshipPage(context.Background(), MustRelationship(CollectionIPAddresses, "Communicating_Files"), "1.1.1.1", ListOptions{Limit: 20})
	if err != nil {
		t.Fatalf("RelationshipPage: %v", err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/ip_addresses/1.1.1.1/communicating_files")
	if got := rec.last().URL.Query().Get("limit"); got != "20" {
		t.Errorf("limit=%q", got)
	}
	if len(p.Objects) != 1 || p.Cursor != "" {
		t.Fatalf("%d objects, cursor %q", len(p.Objects), p.Cursor)
	}
	var fa FileAttributes
	if err := json.Unmarshal(p.Objects[0].Attributes, &fa); err != nil {
		t.Fatal(err)
	}
	if fa.MD5 != "2b680c384add574115ea24e54802aad8" || fa.LastAnalysisStats == nil || fa.LastAnalysisStats.Malicious != 6 ||
		fa.LastAnalysisStats.TypeUnsupported != 5 || fa.LastAnalysisStats.Undetected != 64 {
		t.Errorf("merged attributes: md5 %q stats %+v", fa.MD5, fa.LastAnalysisStats)
	}
	if fa.FirstSubmissionDate == 0 || len(fa.LastAnalysisResults) == 0 {
		t.Error("attributes that were inside \"attributes\" were lost in the merge")
	}
	checkRaw(t, p.Raw, body)
}

func testIPFilesDescriptorsFixture(t *testing.T, body []byte) {
	// Two responses in one file, keyed by relationship.
	var both map[string]json.RawMessage
	if err := json.Unmarshal(body, &both); err != nil {
		t.Fatal(err)
	}
	for rel, resp := range both {
		t.Run(rel, func(t *testing.T) {
			g := generic(t, resp)
			c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, resp) })
			p, err := c.RelationshipPage(context.Background(), MustRelationship(CollectionIPAddresses, rel), "1.1.1.1", ListOptions{Limit: 20, DescriptorsOnly: true})
			if err != nil {
				t.Fatalf("RelationshipPage: %v", err)
			}
			wantRequest(t, rec.last(), "GET", "/api/v3/ip_addresses/1.1.1.1/relationships/"+rel)
			if p.Cursor != "STIwCi4=" || p.Links.Next == "" || p.Links.Related != jget(g, "links", "related") {
				t.Errorf("cursor %q links %+v", p.Cursor, p.Links)
			}
			data := jget(g, "data").([]any)
			if len(p.Objects) != len(data) {
				t.Fatalf("%d descriptors, fixture has %d", len(p.Objects), len(data))
			}
			for i, o := range p.Objects {
				if o.Type != "file" || o.ID != jget(data[i], "id") || o.Attributes != nil {
					t.Errorf("descriptor %d = %s %s", i, o.Type, o.ID)
				}
			}
		})
	}
}

func testResolutionsFixture(t *testing.T, body []byte) {
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	var ids []string
	for o, err := range c.Relationship(context.Background(), MustRelationship(CollectionIPAddresses, "resolutions"), "8.8.8.8", ListOptions{Limit: 40}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
		var a struct {
			HostName string         `json:"host_name"`
			IP       string         `json:"ip_address"`
			Stats    *AnalysisStats `json:"host_name_last_analysis_stats"`
		}
		if err := json.Unmarshal(o.Attributes, &a); err != nil || a.IP != "8.8.8.8" || a.Stats == nil || o.Type != "resolution" {
			t.Errorf("resolution %s: %v %+v", o.ID, err, a)
		}
	}
	if !slices.Equal(ids, []string{"8.8.8.8franttini.com.ua", "8.8.8.8pxl.pl"}) {
		t.Errorf("ids %v", ids)
	}
}

func testSearchFixture(t *testing.T, body []byte) {
	g := generic(t, body)
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	p, err := c.Search(context.Background(), "example", ListOptions{Limit: 1})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	q := rec.last().URL.Query()
	if rec.last().URL.Path != "/api/v3/search" || q.Get("query") != "example" || q.Get("limit") != "1" || q.Has("cursor") {
		t.Errorf("request %s", rec.last().URL)
	}
	if p.Cursor != jget(g, "meta", "cursor") || p.Cursor == "" {
		t.Errorf("cursor %q", p.Cursor)
	}
	if len(p.Objects) != 1 || p.Objects[0].Type != "comment" || !strings.HasPrefix(p.Objects[0].ID, "f-084a541d") {
		t.Errorf("objects %+v", p.Objects)
	}
	// The next page asks with the cursor.
	if _, err := c.Search(context.Background(), "example", ListOptions{Limit: 1, Cursor: p.Cursor}); err != nil {
		t.Fatal(err)
	}
	if got := rec.last().URL.Query().Get("cursor"); got != p.Cursor {
		t.Errorf("cursor sent %q", got)
	}
}

func testUserFixture(t *testing.T, body []byte) {
	const fixtureKey = "3333333t33333333333333r333333f333333g33333333c3333333f333333333a"
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	u, err := c.GetUser(context.Background(), "spellman")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/users/spellman")
	if u.ID != "spellman" || u.Type != "user" {
		t.Errorf("id %q type %q", u.ID, u.Type)
	}
	if q := u.Quotas["api_requests_daily"]; q.Allowed != 1000000000 || q.Used != 4 {
		t.Errorf("daily quota %+v", q)
	}
	if q := u.Quotas["api_requests_monthly"]; q.Allowed != 1000000000 || q.Used != 113 {
		t.Errorf("monthly quota %+v", q)
	}
	if q := u.Quotas["intelligence_downloads_monthly"]; q.Allowed != 0 || q.Used != 5 || len(u.Quotas) != 5 {
		t.Errorf("quotas %+v", u.Quotas)
	}
	want := map[string]bool{"admin": false, "allinfo": false, "big-files": true, "cases": true, "click_to_accept": false}
	if len(u.Privileges) != len(want) {
		t.Errorf("privileges %v", u.Privileges)
	}
	for k, v := range want {
		if got, ok := u.Privileges[k]; !ok || got != v {
			t.Errorf("privilege %s = %v, want %v", k, got, v)
		}
	}
	for what, b := range map[string][]byte{"Raw": u.Raw, "Attributes": u.Attributes} {
		if bytes.Contains(b, []byte(fixtureKey)) || bytes.Contains(b, []byte(`"apikey"`)) {
			t.Errorf("%s keeps the apikey attribute", what)
		}
	}
	if jget(generic(t, u.Raw), "data", "attributes", "email") != "blabla@blabla.com" {
		t.Error("Raw lost other attributes")
	}
}

func testWidgetFixture(t *testing.T, body []byte) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	wu, err := c.GetWidgetURL(context.Background(), "44d88612fea8a8f36de82e1278abb02f", WidgetOptions{FG1: "ffffff", BG1: "#313d5a"})
	if err != nil {
		t.Fatalf("GetWidgetURL: %v", err)
	}
	q := rec.last().URL.Query()
	if rec.last().URL.Path != "/api/v3/widget/url" || q.Get("query") != "44d88612fea8a8f36de82e1278abb02f" ||
		q.Get("fg1") != "ffffff" || q.Get("bg1") != "#313d5a" || q.Has("bg2") {
		t.Errorf("request %s", rec.last().URL)
	}
	if wu.DetectionRatio.Detections != 5 || wu.DetectionRatio.Total != 71 ||
		!strings.HasPrefix(wu.URL, "https://virustotal.com/ui/widget/html/OTEzZjdh") || wu.Found != nil {
		t.Errorf("widget %+v", wu)
	}
	checkRaw(t, wu.Raw, body)
}
