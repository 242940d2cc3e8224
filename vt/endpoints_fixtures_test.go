package vt

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Replays of the fixtures of the endpoints of comments, votes, network_location, URL
// rescans, downloads and overall quotas, and of the 429/503/504 errors.
// They are registered in fixtureTests.

// onePosted wraps the first element of a list fixture as the answer of a post:
// VirusTotal answers POST /{collection}/{id}/comments and /votes with the object.
func onePosted(t *testing.T, body []byte) []byte {
	t.Helper()
	first := jget(generic(t, body), "data").([]any)[0]
	b, err := json.Marshal(map[string]any{"data": first})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// postedBody decodes a post's JSON body.
func postedBody(t *testing.T, r *http.Request) map[string]any {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("posted body %q is not JSON: %v", b, err)
	}
	return m
}

func testCommentsFixture(t *testing.T, body []byte) {
	g := generic(t, body)
	const id = "cf4b367e49bf0b22041c6f065f4aa19f3cfe39c8d5abc0617343d1a66c6a26f5"
	var posted map[string]any
	var ctype string
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posted, ctype = postedBody(t, r), r.Header.Get("Content-Type")
			answer(w, 200, onePosted(t, body))
			return
		}
		answer(w, 200, body)
	})
	p, err := c.GetComments(context.Background(), CollectionFiles, id, ListOptions{Limit: 10})
	if err != nil {
		t.Fatalf("GetComments: %v", err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/files/"+id+"/comments")
	if len(p.Comments) != 2 || p.Cursor != jget(g, "meta", "cursor") || !strings.Contains(p.Links.Next, "cursor=") {
		t.Fatalf("%d comments, cursor %q, next %q", len(p.Comments), p.Cursor, p.Links.Next)
	}
	cm := p.Comments[0]
	if cm.Type != "comment" || cm.ID != jget(g, "data").([]any)[0].(map[string]any)["id"] || cm.Text != "File is trusted." ||
		cm.HTML != "File is trusted." || cm.Date != 1589288957 || !slices.Equal(cm.Tags, []string{"_:web", "_:public"}) ||
		cm.Votes != (CommentVotes{}) || !strings.HasPrefix(cm.Links.Self, "https://www.virustotal.com/api/v3/comments/f-") {
		t.Errorf("comment %+v", cm)
	}
	if p.Comments[1].Text != "Gt" {
		t.Errorf("second comment %+v", p.Comments[1])
	}
	checkRaw(t, p.Raw, body)

	added, err := c.AddComment(context.Background(), CollectionFiles, id, "File is trusted.")
	if err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	wantRequest(t, rec.last(), "POST", "/api/v3/files/"+id+"/comments")
	if ctype != "application/json" || jget(posted, "data", "type") != "comment" || jget(posted, "data", "attributes", "text") != "File is trusted." {
		t.Errorf("posted %s %v", ctype, posted)
	}
	if added.ID != cm.ID || added.Text != cm.Text || !slices.Equal(added.Tags, cm.Tags) {
		t.Errorf("added %+v", added)
	}
	before := rec.count()
	for _, bad := range []func() error{
		func() error { _, err := c.AddComment(context.Background(), CollectionFiles, id, "  "); return err },
		func() error { _, err := c.AddComment(context.Background(), "users", id, "x"); return err },
		func() error { _, err := c.AddComment(context.Background(), CollectionFiles, "", "x"); return err },
		func() error {
			_, err := c.GetComments(context.Background(), CollectionFiles, id, ListOptions{DescriptorsOnly: true})
			return err
		},
	} {
		if err := bad(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("refusal: %v", err)
		}
	}
	if rec.count() != before {
		t.Error("a refused comment call was sent")
	}
}

func testVotesFixture(t *testing.T, body []byte) {
	const id = "87083882cc6015984eb0411a99d3981817f5dc5c90ba24f0940420c5548d82de"
	var posted map[string]any
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posted = postedBody(t, r)
			answer(w, 200, onePosted(t, body))
			return
		}
		answer(w, 200, body)
	})
	p, err := c.GetVotes(context.Background(), CollectionFiles, id, ListOptions{Limit: 2})
	if err != nil {
		t.Fatalf("GetVotes: %v", err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/files/"+id+"/votes")
	if len(p.Votes) != 2 || p.Cursor == "" || p.Votes[0].Verdict != VerdictHarmless || p.Votes[0].Value != 1 ||
		p.Votes[1].Value != 7 || p.Votes[0].Date != 1592125710 || p.Votes[0].ID != "f-"+id+"-726b4272" {
		t.Errorf("votes %+v cursor %q", p.Votes, p.Cursor)
	}
	checkRaw(t, p.Raw, body)
	v, err := c.AddVote(context.Background(), CollectionFiles, id, VerdictHarmless)
	if err != nil {
		t.Fatalf("AddVote: %v", err)
	}
	wantRequest(t, rec.last(), "POST", "/api/v3/files/"+id+"/votes")
	if jget(posted, "data", "type") != "vote" || jget(posted, "data", "attributes", "verdict") != "harmless" || v.Verdict != VerdictHarmless {
		t.Errorf("posted %v, vote %+v", posted, v)
	}
	before := rec.count()
	if _, err := c.AddVote(context.Background(), CollectionFiles, id, "evil"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad verdict: %v", err)
	}
	if rec.count() != before {
		t.Error("a bad verdict was sent")
	}
}

func testUserVotesFixture(t *testing.T, body []byte) {
	const id = "87083882cc6015984eb0411a99d3981817f5dc5c90ba24f0940420c5548d82de"
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	p, err := c.GetUserVotes(context.Background(), CollectionFiles, id, ListOptions{})
	if err != nil {
		t.Fatalf("GetUserVotes: %v", err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/files/"+id+"/user_votes")
	if len(p.Votes) != 1 || p.Cursor != "" || p.Votes[0].Verdict != VerdictHarmless {
		t.Errorf("user votes %+v cursor %q", p.Votes, p.Cursor)
	}
	if r := MustRelationship(CollectionFiles, "user_votes"); r.Access != AccessOwnData {
		t.Errorf("user_votes access %s, want own-data", r.Access)
	}
}

func testNetworkLocationFixture(t *testing.T, body []byte) {
	const id = "afed5cd29a4f975c3c71c5a7baf295245f1e7f6a62a9f4bb4e4979705f45ac55"
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	rel := MustRelationship(CollectionURLs, "network_location")
	if !rel.ToOne || !slices.Equal(rel.Returns, []string{"domain", "ip_address"}) {
		t.Fatalf("network_location in the table: %+v", rel)
	}
	p, err := c.RelationshipPage(context.Background(), rel, id, ListOptions{})
	if err != nil {
		t.Fatalf("RelationshipPage: %v", err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/urls/"+id+"/network_location")
	if len(p.Objects) != 1 || p.Objects[0].Type != "domain" || p.Objects[0].ID != "foo.fooapis.com" || p.Cursor != "" {
		t.Fatalf("page %+v", p)
	}
	var attrs DomainAttributes
	if err := json.Unmarshal(p.Objects[0].Attributes, &attrs); err != nil || attrs.Registrar != "MarkMonitor Inc." || attrs.LastAnalysisStats.Harmless != 3 {
		t.Errorf("domain attributes %+v, %v", attrs, err)
	}
	// The iterator stops after the one object.
	n := 0
	for o, err := range c.Relationship(context.Background(), rel, id, ListOptions{}) {
		if err != nil || o.ID != "foo.fooapis.com" {
			t.Fatalf("iterator: %v %v", o, err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("iterator gave %d objects", n)
	}
}

func testURLAnalyseFixture(t *testing.T, body []byte) {
	const id = "a354494a73382ea0b4bc47f4c9e8d6c578027cd4598196dc88f05a22b5817293"
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	d, err := c.RescanURL(context.Background(), id)
	if err != nil {
		t.Fatalf("RescanURL: %v", err)
	}
	wantRequest(t, rec.last(), "POST", "/api/v3/urls/"+id+"/analyse")
	if d.ID != "u-"+id+"-1604933101" || d.Type != "analysis" {
		t.Errorf("descriptor %+v", d)
	}
	if _, err := c.RescanURL(context.Background(), ""); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty id: %v", err)
	}
}

func testDownloadURLFixture(t *testing.T, body []byte) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	u, err := c.GetFileDownloadURL(context.Background(), "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f")
	if err != nil {
		t.Fatalf("GetFileDownloadURL: %v", err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/files/275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f/download_url")
	if u != jget(generic(t, body), "data") {
		t.Errorf("url %q", u)
	}
}

func testOverallQuotasFixture(t *testing.T, body []byte) {
	spy := &limiterSpy{}
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) }, WithLimiter(spy))
	q, err := c.GetOverallQuotas(context.Background(), testKey)
	if err != nil {
		t.Fatalf("GetOverallQuotas: %v", err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/users/"+testKey+"/overall_quotas")
	if len(q.Quotas) != len(jget(generic(t, body), "data").(map[string]any)) {
		t.Errorf("%d quotas", len(q.Quotas))
	}
	d := q.Quotas["api_requests_daily"]
	if d.User != (Quota{Allowed: 1000, Used: 74}) || d.Group == nil || d.Group.Allowed != 30000000 || d.Group.InheritedFrom != "palo_alto_networks" {
		t.Errorf("api_requests_daily %+v %+v", d, d.Group)
	}
	if d.Left() != 926 {
		t.Errorf("api_requests_daily left %d, want the user's 926", d.Left())
	}
	if s := q.Quotas["intelligence_searches_monthly"]; s.Left() != 100000-16328 {
		t.Errorf("intelligence_searches_monthly left %d: a member without an allowance of its own spends the group's", s.Left())
	}
	if m := q.Quotas["monitor_storage_bytes"]; m.Group != nil || m.Left() != 0 {
		t.Errorf("monitor_storage_bytes %+v", m)
	}
	if len(spy.waits) != 0 {
		t.Errorf("the limiter was asked %d times for a call VirusTotal does not count", len(spy.waits))
	}
	checkRaw(t, q.Raw, body)
}

// A 429 TooManyRequestsError (the request rate, not the quota) is retried with
// backoff and does not hold the budget; a QuotaExceededError does (see
// testErrorFixture).
func testTooManyRequestsFixture(t *testing.T, body []byte) {
	spy := &limiterSpy{}
	n := 0
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		if n < 3 {
			answer(w, 429, body)
			return
		}
		answer(w, 200, []byte(`{"data": {"type": "file", "id": "f"}}`))
	}, WithLimiter(spy))
	if _, err := c.GetFile(context.Background(), "44d88612fea8a8f36de82e1278abb02f"); err != nil {
		t.Fatalf("GetFile after two 429 TooManyRequestsError: %v", err)
	}
	if rec.count() != 3 || len(spy.throttled) != 0 {
		t.Errorf("%d requests, %d holds; want 3 and none", rec.count(), len(spy.throttled))
	}
	c1, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 429, body) }, WithRetry(RetryPolicy{MaxAttempts: 1}))
	_, err := c1.GetFile(context.Background(), "44d88612fea8a8f36de82e1278abb02f")
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 429 || e.Code != CodeTooManyRequests || e.Message != "Too many requests." || !IsQuotaExceeded(err) {
		t.Errorf("err = %v", err)
	}
}
