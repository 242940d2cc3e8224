package vtsim

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/vt"
)

// client is a vt client for the emulator with key.
func (e *env) client(key string) *vt.Client {
	e.t.Helper()
	c, err := vt.New(key, vt.WithServerURL(e.ts.URL), vt.WithHTTPClient(e.ts.Client()),
		vt.WithRetry(vt.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// objectOf returns an id of each collection that exists, whose relationships are all
// defined (a URL the emulator knows by its text, a domain with a parent).
func objectOf(t *testing.T, e *env) map[vt.Collection]string {
	u := findID(t, func(i int) string { return fmt.Sprintf("https://walk%d.example.org/path", i) }, func(u string) bool {
		return digestOf(urlSHA256ID(u)).exists() && domainExists(hostOf(u))
	})
	e.mustGet("/api/v3/urls/" + base64.RawURLEncoding.EncodeToString([]byte(u))) // the emulator now knows its text
	d := findID(t, func(i int) string { return fmt.Sprintf("www.walk%d.example.org", i) }, func(d string) bool {
		return domainExists(d) && domainExists(parentDomain(d, true)) && domainExists(parentDomain(d, false))
	})
	ip := findID(t, func(i int) string { return fmt.Sprintf("198.51.100.%d", 1+i%250) }, func(ip string) bool { return digestOf(ip).exists() })
	return map[vt.Collection]string{vt.CollectionFiles: eicarSHA256, vt.CollectionURLs: urlSHA256ID(u),
		vt.CollectionDomains: d, vt.CollectionIPAddresses: ip}
}

// Every relationship of every collection, as vt's table lists it, asked with a public
// and a premium key, as objects and as descriptors: 200 or 403 ForbiddenError as the
// table says, objects of the type it says, one at most for a one-to-one.
func TestEveryRelationshipAsTheTableSays(t *testing.T) {
	e := newEnv(t, Options{PremiumKeys: []string{"premium-key"}})
	public, premium := e.client(testKey), e.client("premium-key")
	ids := objectOf(t, e)
	ctx := context.Background()
	n := 0
	for _, rel := range vt.Relationships() {
		id := ids[rel.Collection]
		for _, desc := range []bool{false, true} {
			opts := vt.ListOptions{Limit: 40, DescriptorsOnly: desc}
			_, err := public.RelationshipPage(ctx, rel, id, opts)
			switch {
			case rel.Premium() && !vt.IsForbidden(err):
				t.Errorf("%s (descriptors %v) on a public key: %v, want 403 ForbiddenError", rel, desc, err)
			case !rel.Premium() && err != nil:
				t.Errorf("%s (descriptors %v) on a public key: %v, want 200", rel, desc, err)
			}
			p, err := premium.RelationshipPage(ctx, rel, id, opts)
			if err != nil {
				t.Errorf("%s (descriptors %v) on a premium key: %v", rel, desc, err)
				continue
			}
			if rel.ToOne && len(p.Objects) > 1 {
				t.Errorf("%s is one-to-one and gave %d objects", rel, len(p.Objects))
			}
			for _, o := range p.Objects {
				if !slices.Contains(rel.Returns, o.Type) || o.ID == "" {
					t.Errorf("%s gave a %q object %q, want %v", rel, o.Type, o.ID, rel.Returns)
				}
				if !desc && len(o.Attributes) < 2 {
					t.Errorf("%s: object %s without attributes", rel, o.ID)
				}
			}
			n++
		}
	}
	t.Logf("%d relationships asked with both keys, as objects and as descriptors", n/2)

	// /metadata lists exactly the table.
	m := e.mustGet("/api/v3/metadata")
	for _, c := range vt.Collections() {
		var got []string
		for _, r := range dig(m, "data", "relationships", c.ObjectType()).([]any) {
			got = append(got, r.(map[string]any)["name"].(string))
		}
		var want []string
		for _, r := range vt.RelationshipsOf(c) {
			want = append(want, r.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("/metadata %s: %v\nwant %v", c, got, want)
		}
	}
}

func TestNetworkLocationAndParentsFollowTheName(t *testing.T) {
	e := newEnv(t, Options{})
	for _, host := range []string{"198.51.100.7", "example.com"} {
		u := findID(t, func(i int) string { return fmt.Sprintf("http://%s/page%d", host, i) },
			func(u string) bool { return digestOf(urlSHA256ID(u)).exists() })
		if _, ok := canonicalIP(host); ok && !ipExists(mustIP(host)) || !ok && !domainExists(host) {
			t.Fatalf("pick another host than %s: it does not exist in the universe", host)
		}
		m := e.mustGet("/api/v3/urls/" + base64.RawURLEncoding.EncodeToString([]byte(u)) + "/network_location")
		typ := "domain"
		if _, ok := canonicalIP(host); ok {
			typ = "ip_address"
		}
		if dig(m, "data", "type") != typ || dig(m, "data", "id") != host || num(dig(m, "meta", "count")) != 1 {
			t.Errorf("network_location of %s: %v %v, want the %s %s", u, dig(m, "data", "type"), dig(m, "data", "id"), typ, host)
		}
		if dig(m, "data", "attributes", "last_analysis_stats") == nil {
			t.Errorf("network_location of %s is not a full object", u)
		}
	}
	d := findID(t, func(i int) string { return fmt.Sprintf("a.b%d.example.co.uk", i) }, func(d string) bool {
		return domainExists(d) && domainExists(parentDomain(d, true)) && domainExists("example.co.uk")
	})
	for name, want := range map[string]any{"parent": "example.co.uk", "immediate_parent": strings.TrimPrefix(d, "a.")} {
		m := e.mustGet("/api/v3/domains/" + d + "/" + name)
		if dig(m, "data", "id") != want {
			t.Errorf("%s of %s = %v, want %v", name, d, dig(m, "data", "id"), want)
		}
	}
	// A registered domain has no parent: data is null, count 0.
	m := e.mustGet("/api/v3/domains/example.co.uk/parent")
	if dig(m, "data") != nil || num(dig(m, "meta", "count")) != 0 {
		t.Errorf("parent of a registered domain: %v", m)
	}
	m = e.mustGet("/api/v3/files/" + eicarSHA256 + "/sigma_analysis")
	if dig(m, "data", "type") != "sigma_analysis" || dig(m, "data", "id") != eicarSHA256 {
		t.Errorf("sigma_analysis: %v", m)
	}
}

func mustIP(s string) netip.Addr {
	a, _ := canonicalIP(s)
	return a
}

func TestCommentsAndVotes(t *testing.T) {
	clock := newClock(time.Now().UTC().Truncate(time.Second))
	e := newEnv(t, Options{Now: clock.Now})
	c, other := e.client(testKey), e.client("other-key")
	ctx := context.Background()
	dom := findID(t, func(i int) string { return fmt.Sprintf("talk%d.example.net", i) }, domainExists)
	before, err := c.GetComments(ctx, vt.CollectionDomains, dom, vt.ListOptions{Limit: 40})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := c.AddComment(ctx, vt.CollectionDomains, dom, "Phishing kit seen here #Phishing #kit.")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cm.ID, "d-"+dom+"-") || cm.Date != vt.Timestamp(clock.Now().Unix()) || !slices.Equal(cm.Tags, []string{"phishing", "kit"}) {
		t.Errorf("comment %+v", cm)
	}
	after, err := c.GetComments(ctx, vt.CollectionDomains, dom, vt.ListOptions{Limit: 40})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Comments) != min(len(before.Comments)+1, 40) || after.Comments[0].ID != cm.ID || after.Comments[0].Text != cm.Text {
		t.Errorf("the posted comment is not listed first: %d then %d comments", len(before.Comments), len(after.Comments))
	}

	if _, err := c.AddVote(ctx, vt.CollectionDomains, dom, vt.VerdictMalicious); err != nil {
		t.Fatal(err)
	}
	v2, err := c.AddVote(ctx, vt.CollectionDomains, dom, vt.VerdictHarmless) // replaces the first
	if err != nil || v2.Value != 1 || v2.Verdict != vt.VerdictHarmless {
		t.Fatalf("second vote %+v %v", v2, err)
	}
	if _, err := other.AddVote(ctx, vt.CollectionDomains, dom, vt.VerdictMalicious); err != nil {
		t.Fatal(err)
	}
	mine, err := c.GetUserVotes(ctx, vt.CollectionDomains, dom, vt.ListOptions{})
	if err != nil || len(mine.Votes) != 1 || mine.Votes[0].ID != v2.ID {
		t.Errorf("user_votes %+v %v: want only this user's latest vote", mine, err)
	}
	theirs, _ := other.GetUserVotes(ctx, vt.CollectionDomains, dom, vt.ListOptions{})
	if len(theirs.Votes) != 1 || theirs.Votes[0].Verdict != vt.VerdictMalicious {
		t.Errorf("the other user's votes %+v", theirs)
	}
	all, err := c.GetVotes(ctx, vt.CollectionDomains, dom, vt.ListOptions{Limit: 40})
	if err != nil || len(all.Votes) < 2 || all.Votes[0].ID == all.Votes[1].ID {
		t.Errorf("votes %+v %v", all, err)
	}

	for _, tc := range []struct {
		path, body string
		status     int
	}{
		{"/api/v3/domains/" + dom + "/comments", `{"data": {"type": "vote", "attributes": {"text": "x"}}}`, 400},
		{"/api/v3/domains/" + dom + "/comments", `not json`, 400},
		{"/api/v3/domains/" + dom + "/comments", `{"data": {"type": "comment", "attributes": {"text": "  "}}}`, 400},
		{"/api/v3/domains/" + dom + "/votes", `{"data": {"type": "vote", "attributes": {"verdict": "evil"}}}`, 400},
		{"/api/v3/domains/gone.invalid/votes", `{"data": {"type": "vote", "attributes": {"verdict": "harmless"}}}`, 404},
	} {
		if st, m := e.do("POST", tc.path, testKey, strings.NewReader(tc.body), "application/json"); st != tc.status {
			t.Errorf("POST %s %s: %d %v, want %d", tc.path, tc.body, st, m, tc.status)
		}
	}
	e.srv.Reset(true)
	if p, _ := c.GetUserVotes(ctx, vt.CollectionDomains, dom, vt.ListOptions{}); len(p.Votes) != 0 {
		t.Errorf("votes survived a reset: %+v", p.Votes)
	}
}

func TestURLRescan(t *testing.T) {
	e := newEnv(t, Options{AnalysisTime: time.Minute, Now: newClock(time.Now()).Now})
	u := findID(t, func(i int) string { return fmt.Sprintf("https://rescan%d.example.com/", i) },
		func(u string) bool { return digestOf(urlSHA256ID(u)).exists() })
	c := e.client(testKey)
	for _, id := range []string{urlSHA256ID(u), base64.RawURLEncoding.EncodeToString([]byte(u))} {
		d, err := c.RescanURL(context.Background(), id)
		if err != nil || !strings.HasPrefix(d.ID, "u-"+urlSHA256ID(u)+"-") || d.Type != "analysis" {
			t.Fatalf("RescanURL(%s) = %+v, %v", id, d, err)
		}
		a, err := c.GetAnalysis(context.Background(), d.ID)
		if err != nil || a.Status != vt.AnalysisQueued || a.ItemID != urlSHA256ID(u) {
			t.Errorf("analysis %+v %v", a, err)
		}
	}
	missing := findID(t, func(i int) string { return fmt.Sprintf("https://norescan%d.example.com/", i) },
		func(u string) bool { return !digestOf(urlSHA256ID(u)).exists() })
	if _, err := c.RescanURL(context.Background(), urlSHA256ID(missing)); !vt.IsNotFound(err) {
		t.Errorf("unknown URL: %v", err)
	}
}

func TestDownloads(t *testing.T) {
	clock := newClock(time.Now())
	e := newEnv(t, Options{PremiumKeys: []string{"premium-key"}, Now: clock.Now})
	public, premium := e.client(testKey), e.client("premium-key")
	ctx := context.Background()
	if _, err := public.GetFileDownloadURL(ctx, eicarMD5); !vt.IsForbidden(err) {
		t.Errorf("download_url on a public key: %v", err)
	}
	if _, err := public.DownloadFile(ctx, eicarMD5, io.Discard); !vt.IsForbidden(err) {
		t.Errorf("download on a public key: %v", err)
	}
	var buf bytes.Buffer
	if n, err := premium.DownloadFile(ctx, eicarMD5, &buf); err != nil || n != eicarSize {
		t.Fatalf("EICAR download: %d %v", n, err)
	}
	if sum := md5.Sum(buf.Bytes()); hex.EncodeToString(sum[:]) != eicarMD5 {
		t.Errorf("EICAR bytes hash to %x", sum)
	}
	st, ref := e.upload("/api/v3/files", "premium-key", "note.txt", []byte("an uploaded sample"))
	if st != 200 {
		t.Fatalf("upload %d %v", st, ref)
	}
	sha := sha256Hex("an uploaded sample")
	buf.Reset()
	if _, err := premium.DownloadFile(ctx, sha, &buf); err != nil || buf.String() != "an uploaded sample" {
		t.Errorf("uploaded file download: %q %v", buf.String(), err)
	}
	u, err := premium.GetFileDownloadURL(ctx, sha)
	if err != nil || !strings.HasPrefix(u, e.ts.URL+"/_download/") {
		t.Fatalf("download_url = %q, %v", u, err)
	}
	get := func(u string) int {
		resp, err := http.Get(u) // the signed URL needs no key
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get(u); st != 200 {
		t.Errorf("signed URL: %d", st)
	}
	clock.Add(61 * time.Minute)
	if st := get(u); st != 403 {
		t.Errorf("signed URL after an hour: %d, want 403", st)
	}
	other := findID(t, hashCandidate, func(id string) bool { return digestOf(id).exists() })
	if _, err := premium.DownloadFile(ctx, other, io.Discard); !vt.IsNotFound(err) {
		t.Errorf("a file whose bytes the emulator does not have: %v", err)
	}
	q, err := premium.GetOverallQuotas(ctx, "premium-key")
	// Four downloads were granted (the two downloads, the signed URL, and the file
	// without content); the refused ones are not counted.
	if err != nil || q.Quotas["intelligence_downloads_monthly"].User.Used != 4 {
		t.Errorf("downloads counted: %+v %v", q.Quotas["intelligence_downloads_monthly"], err)
	}
}

func TestOverallQuotasAreFree(t *testing.T) {
	e := newEnv(t, Options{QuotaMinute: 2, PremiumKeys: []string{"premium-key"}})
	c := e.client(testKey)
	ctx := context.Background()
	for range 2 {
		if _, err := c.GetFile(ctx, eicarMD5); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.GetFile(ctx, eicarMD5); !vt.IsQuotaExceeded(err) {
		t.Fatalf("third request of the minute: %v", err)
	}
	for range 3 {
		q, err := c.GetOverallQuotas(ctx, testKey)
		if err != nil {
			t.Fatalf("overall_quotas with the minute spent: %v", err)
		}
		if h := q.Quotas["api_requests_hourly"]; h.User.Used != 2 || h.User.Allowed != 120 || h.Group != nil {
			t.Errorf("hourly %+v: want 2 of 120 used and no group on a public key", h)
		}
	}
	u, err := c.GetUser(ctx, testKey)
	if err != nil {
		// The minute is spent: GET /users/{id} is metered, unlike overall_quotas.
		if !vt.IsQuotaExceeded(err) {
			t.Fatal(err)
		}
	} else {
		t.Errorf("GET /users/{id} served past the quota: %+v", u)
	}
	if _, err := c.GetOverallQuotas(ctx, "someone-elses-key-1234567890"); !vt.IsNotFound(err) {
		t.Errorf("someone else's quotas: %v", err)
	}
	p, err := e.client("premium-key").GetOverallQuotas(ctx, userID(keyHash("premium-key")))
	if err != nil || p.Quotas["api_requests_daily"].Group == nil || p.Quotas["api_requests_daily"].Group.InheritedFrom != premiumGroup {
		t.Errorf("premium quotas by user id: %+v %v", p, err)
	}
}

func TestExpiredWidgetURLIsABadRequest(t *testing.T) {
	clock := newClock(time.Now())
	e := newEnv(t, Options{Now: clock.Now})
	page := dig(e.mustGet("/api/v3/widget/url?query="+eicarMD5), "data", "url").(string)
	clock.Add(widgetTTL + time.Minute)
	resp, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"BadRequestError"`) {
		t.Errorf("expired widget: %d %s", resp.StatusCode, b)
	}
	_, err = e.client(testKey).GetWidgetHTML(context.Background(), page)
	var ve *vt.Error
	if !errors.As(err, &ve) || ve.StatusCode != 400 || ve.Code != vt.CodeBadRequest {
		t.Errorf("client error: %v", err)
	}
}
