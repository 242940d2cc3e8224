package vt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestRelationshipIteratorFollowsCursors(t *testing.T) {
	pages := map[string][]byte{
		"":   pageOf("c1", []byte(`{"type":"file","id":"f1"}`), []byte(`{"type":"file","id":"f2"}`)),
		"c1": pageOf("c2", []byte(`{"type":"file","id":"f3"}`)),
		"c2": pageOf("", []byte(`{"type":"file","id":"f4"}`)),
	}
	var cursors []string
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		cur := r.URL.Query().Get("cursor")
		cursors = append(cursors, cur)
		if r.URL.Query().Get("limit") != "40" {
			http.Error(w, "limit", 400)
			return
		}
		answer(w, 200, pages[cur])
	})
	var ids []string
	for o, err := range c.Relationship(context.Background(), MustRelationship(CollectionDomains, "downloaded_files"), "example.com", ListOptions{Limit: 40, DescriptorsOnly: true}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	if strings.Join(ids, ",") != "f1,f2,f3,f4" || strings.Join(cursors, ",") != ",c1,c2" {
		t.Errorf("ids %v, cursors sent %q", ids, cursors)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/domains/example.com/relationships/downloaded_files")

	// Stopping early fetches no further page.
	before := rec.count()
	for range c.Relationship(context.Background(), MustRelationship(CollectionDomains, "downloaded_files"), "example.com", ListOptions{Limit: 40}) {
		break
	}
	if rec.count() != before+1 {
		t.Errorf("%d pages fetched after a break", rec.count()-before)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/domains/example.com/downloaded_files")
}

func TestRelationshipIteratorErrors(t *testing.T) {
	var n int
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			answer(w, 200, pageOf("c1", []byte(`{"type":"url","id":"u1"}`)))
			return
		}
		answer(w, 403, []byte(`{"error":{"code":"ForbiddenError","message":"premium only"}}`))
	})
	var got []string
	var lastErr error
	for o, err := range c.Relationship(context.Background(), MustRelationship(CollectionURLs, "downloaded_files"), "u", ListOptions{}) {
		if err != nil {
			lastErr = err
			continue
		}
		got = append(got, o.ID)
	}
	if len(got) != 1 || !IsForbidden(lastErr) {
		t.Errorf("got %v, err %v", got, lastErr)
	}

	// A server repeating its cursor does not make the iterator loop forever.
	c2, rec2, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, pageOf("same", []byte(`{"type":"url","id":"u1"}`)))
	})
	var errs int
	for _, err := range c2.Relationship(context.Background(), Relationship{Collection: CollectionURLs, Name: "x"}, "u", ListOptions{}) {
		if err != nil {
			errs++
		}
	}
	if errs != 1 || rec2.count() != 2 {
		t.Errorf("%d errors after %d pages", errs, rec2.count())
	}
}

func TestRelationshipValidation(t *testing.T) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, pageOf("")) })
	for _, tc := range []struct {
		collection, id, rel string
		limit               int
		want                string
	}{
		{"users", "x", "y", 0, "collection"},
		{"files", "", "y", 0, "empty id"},
		{"files", "x", "", 0, "empty relationship"},
		{"files", "x", "../../users", 0, "only letters"},
		{"files", "x", "contacted_ips", 41, "between 1 and 40, got 41"},
		{"files", "x", "contacted_ips", -1, "got -1"},
	} {
		rel := Relationship{Collection: Collection(tc.collection), Name: tc.rel}
		_, err := c.RelationshipPage(context.Background(), rel, tc.id, ListOptions{Limit: tc.limit})
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v", tc, err)
		}
	}
	if rec.count() != 0 {
		t.Errorf("%d requests sent for invalid arguments", rec.count())
	}
	if _, err := c.RelationshipPage(context.Background(), MustRelationship(CollectionIPAddresses, "Resolutions"), "2001:db8::1", ListOptions{}); err != nil {
		t.Fatal(err)
	}
	r := rec.last()
	if r.URL.EscapedPath() != "/api/v3/ip_addresses/2001:db8::1/resolutions" || r.URL.Query().Get("limit") != "10" {
		t.Errorf("request %s", r.URL)
	}
}

func TestPageDecoding(t *testing.T) {
	for _, tc := range []struct {
		body, cursor string
		n            int
		err          bool
	}{
		{`{"data": [], "meta": {"count": 0}}`, "", 0, false},
		{`{"data": [{"type":"file","id":"a"}], "links": {"next": "https://www.virustotal.com/api/v3/x?cursor=Q1w%3D&limit=10"}}`, "Q1w=", 1, false},
		{`{"data": [{"type":"file","id":"a"}], "meta": {"cursor": 5}}`, "", 1, false},
		{`{"data": {"type":"file","id":"a"}, "meta": {"count": 1}}`, "", 1, false}, // one-to-one
		{`{"data": null}`, "", 0, false},
		{`{"data": "x"}`, "", 0, true},
		{`{"data": [1, 2]}`, "", 0, true},
		{`{"meta": {}}`, "", 0, true},
		{`[]`, "", 0, true},
	} {
		p, err := decodePageBody([]byte(tc.body))
		if (err != nil) != tc.err {
			t.Errorf("%s: err %v", tc.body, err)
			continue
		}
		if err == nil && (p.Cursor != tc.cursor || len(p.Objects) != tc.n) {
			t.Errorf("%s: cursor %q, %d objects", tc.body, p.Cursor, len(p.Objects))
		}
	}
}

func TestSearchAndIntelligenceSearch(t *testing.T) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v3/intelligence/") {
			answer(w, 403, []byte(`{"error":{"code":"ForbiddenError","message":"You are not allowed to perform the requested operation"}}`))
			return
		}
		answer(w, 200, pageOf("", []byte(`{"type":"file","id":"f1"}`)))
	})
	_, err := c.IntelligenceSearch(context.Background(), "type:peexe p:5+", ListOptions{Limit: 40, DescriptorsOnly: true, Cursor: "abc"})
	if !IsForbidden(err) {
		t.Errorf("IntelligenceSearch on a public key: %v", err)
	}
	q := rec.last().URL.Query()
	if rec.last().URL.Path != "/api/v3/intelligence/search" || q.Get("query") != "type:peexe p:5+" || q.Get("limit") != "40" ||
		q.Get("cursor") != "abc" || q.Get("descriptors_only") != "true" {
		t.Errorf("request %s", rec.last().URL)
	}
	p, err := c.Search(context.Background(), "evil.example", ListOptions{})
	if err != nil || len(p.Objects) != 1 || rec.last().URL.Query().Get("limit") != "10" {
		t.Errorf("Search = %+v, %v", p, err)
	}
	before := rec.count()
	for _, tc := range []struct {
		q    string
		opts ListOptions
	}{{"", ListOptions{}}, {"  ", ListOptions{}}, {"x", ListOptions{Limit: 100}}, {"x", ListOptions{DescriptorsOnly: true}}} {
		if _, err := c.Search(context.Background(), tc.q, tc.opts); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Search(%q, %+v) = %v", tc.q, tc.opts, err)
		}
	}
	if rec.count() != before {
		t.Error("invalid searches were sent")
	}
}

func TestWidgetHTML(t *testing.T) {
	var widgetURL string
	c, rec, srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v3/widget/url":
			answer(w, 200, []byte(`{"data": {"id": "x", "type": "file", "found": true, "url": "`+widgetURL+`", "detection_ratio": {"detections": 1, "total": 70}}}`))
		case "/ui/widget/html/VE9LRU4":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><body>widget</body></html>")
		default:
			http.NotFound(w, r)
		}
	})
	widgetURL = srv.URL + "/ui/widget/html/VE9LRU4"
	wu, err := c.GetWidgetURL(context.Background(), "x", WidgetOptions{})
	if err != nil || wu.Found == nil || !*wu.Found || wu.DetectionRatio.Total != 70 {
		t.Fatalf("GetWidgetURL = %+v, %v", wu, err)
	}
	html, err := c.GetWidgetHTML(context.Background(), wu.URL)
	if err != nil || string(html) != "<html><body>widget</body></html>" {
		t.Fatalf("GetWidgetHTML = %q, %v", html, err)
	}
	if k := rec.last().Header.Get("X-Apikey"); k != "" || rec.last().Header.Get("Accept") != "text/html" {
		t.Errorf("widget HTML request sent the key or the wrong Accept: %v", rec.last().Header)
	}
	before := rec.count()
	for _, u := range []string{
		"https://evil.example/ui/widget/html/VE9LRU4",
		strings.Replace(widgetURL, "http://", "https://", 1),
		srv.URL + "/api/v3/users/me",
		"/ui/widget/html/VE9LRU4",
		strings.Replace(widgetURL, "http://", "http://user:pw@", 1),
	} {
		if _, err := c.GetWidgetHTML(context.Background(), u); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("GetWidgetHTML(%q) = %v, want a refusal", u, err)
		}
	}
	if rec.count() != before {
		t.Error("a refused widget URL was fetched")
	}
	if _, err := c.GetWidgetURL(context.Background(), "x", WidgetOptions{FG1: "red"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad colour: %v", err)
	}
	if !sameSite("www.virustotal.com", "virustotal.com") || sameSite("virustotal.com.evil", "virustotal.com") || sameSite("www.virustotal.com:8443", "www.virustotal.com") {
		t.Error("sameSite")
	}
}

func TestWidgetHTMLErrorStatus(t *testing.T) {
	var base string
	c, _, srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(404)
		fmt.Fprint(w, "<h1>expired</h1>")
	})
	base = srv.URL
	_, err := c.GetWidgetHTML(context.Background(), base+"/ui/widget/html/old")
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeNotFound || e.Path != "/ui/widget/html/{token}" || !strings.Contains(e.Message, "expired") {
		t.Errorf("err = %v", err)
	}
}

func TestGetUserAndMetadata(t *testing.T) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v3/metadata" {
			answer(w, 200, []byte(`{"data": {"engines": {"Avast": {}}, "relationships": {"file": []}}}`))
			return
		}
		answer(w, 200, []byte(`{"data": {"type": "user", "id": "bob", "attributes": {"apikey": "`+testKey+`", "privileges": {"intelligence": true, "private": {"granted": false}}, "quotas": {"api_requests_daily": {"allowed": 500, "used": 12}}}}}`))
	})
	u, err := c.GetUser(context.Background(), testKey)
	if err != nil {
		t.Fatal(err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/users/"+testKey)
	if u.ID != "bob" || !u.Privileges["intelligence"] || u.Privileges["private"] || u.Quotas["api_requests_daily"].Used != 12 {
		t.Errorf("user %+v", u)
	}
	mustNotContainKey(t, "Raw", string(u.Raw))
	mustNotContainKey(t, "Attributes", string(u.Attributes))
	m, err := c.GetMetadata(context.Background())
	if err != nil || !strings.Contains(string(m.Attributes), "Avast") || !strings.HasPrefix(string(m.Raw), `{"data"`) {
		t.Errorf("GetMetadata = %+v, %v", m, err)
	}
}

// CurrentUser asks for the key's own user and keeps the key out of everything it
// returns, even when VirusTotal names the user by the key.
func TestCurrentUserKeepsTheKeyOut(t *testing.T) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, []byte(`{"data": {"type": "user", "id": "`+testKey+`", "links": {"self": "https://vt.test/api/v3/users/`+testKey+`"},
 "attributes": {"apikey": "`+testKey+`", "first_name": "Bob <b>", "note": "key `+strings.ToUpper(testKey)+` here",
 "privileges": {"intelligence": true}, "quotas": {"api_requests_daily": {"allowed": 500, "used": 12}}, "reputation": 1234567890123}}}`))
	})
	u, err := c.CurrentUser(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/users/"+testKey)
	if u.ID != "" || u.Links.Self != "" || !u.Privileges["intelligence"] || u.Quotas["api_requests_daily"].Used != 12 {
		t.Errorf("user %+v", u)
	}
	mustNotContainKey(t, "Raw", strings.ToLower(string(u.Raw)))
	var doc struct {
		Data struct {
			Type       string         `json:"type"`
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(u.Raw, &doc); err != nil || doc.Data.Type != "user" || doc.Data.Attributes["first_name"] != "Bob <b>" ||
		doc.Data.Attributes["note"] != "key [REDACTED] here" || !strings.Contains(string(u.Raw), "1234567890123") {
		t.Errorf("Raw lost what is not the key: %s (%v)", u.Raw, err)
	}
}

// CurrentOverallQuotas asks for the key's own quotas, unmetered, the key out of Raw.
func TestCurrentOverallQuotas(t *testing.T) {
	lim := &limiterSpy{}
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, []byte(`{"data": {"api_requests_daily": {"user": {"allowed": 500, "used": 3}}}, "links": {"self": "https://vt.test/api/v3/users/`+testKey+`/overall_quotas"}}`))
	}, WithLimiter(lim))
	q, err := c.CurrentOverallQuotas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/users/"+testKey+"/overall_quotas")
	if q.Quotas["api_requests_daily"].Left() != 497 || len(lim.waits) != 0 {
		t.Errorf("quotas %+v, %d limiter waits", q.Quotas, len(lim.waits))
	}
	mustNotContainKey(t, "Raw", string(q.Raw))
	if !json.Valid(q.Raw) || !strings.Contains(string(q.Raw), "/users/[REDACTED]/overall_quotas") {
		t.Errorf("Raw %s", q.Raw)
	}
}
