package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// postEvent posts the events page's form and returns the answer.
func postEvent(b *browser, artifacts string) page {
	b.t.Helper()
	form := b.get("/events")
	return b.do("POST", "/events", url.Values{"csrf": {form.csrf(b.t)}, "artifacts": {artifacts}})
}

// waitPage gets path until its body holds want, for 20 s at most.
func waitPage(t *testing.T, b *browser, path, want string) page {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p := b.get(path)
		if p.status == 200 && strings.Contains(p.body, want) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never said %q: %d %.2000s", path, want, p.status, p.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEventWithAnInvalidLineIsPostedAsOverREST: a line whose value is not valid for
// its type does not refuse the event: it is posted, and that artifact ends in error,
// as POST /api/v1/events does; the list says how far the event is ("4 of 4 done").
func TestEventWithAnInvalidLineIsPostedAsOverREST(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login(e.tokens["admin"])
	r := postEvent(b, eicarMD5+"\n8.8.8.8\nip: 999.1.1.1\n"+badHash+"\n")
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/events/ev_") {
		t.Fatalf("posting an event with two invalid lines = %d %q: %.1000s", r.status, loc, r.body)
	}
	ev := waitPage(t, b, loc, `data-status="done"`)
	for _, want := range []string{"999.1.1.1", badHash, "invalid ip", "invalid file", "4 of 4 artifacts done"} {
		if !strings.Contains(ev.body, want) {
			t.Errorf("the event's page lacks %q: %.3000s", want, ev.body)
		}
	}
	waitPage(t, b, "/events", "4 of 4 done")
}

// TestEventLineOfNoKindIsRefusedWithHowToSayIt: a line that is no kind of observable
// cannot be posted (REST needs each artifact's type): nothing is posted, and the page
// says which line and how to name its type.
func TestEventLineOfNoKindIsRefusedWithHowToSayIt(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login(e.tokens["admin"])
	r := postEvent(b, "8.8.8.8\nhello\n")
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "&#34;hello&#34;") || !strings.Contains(r.body, "prefix a line with") {
		t.Fatalf("posting a line of no kind = %d: %.2000s", r.status, r.body)
	}
	if p := b.get("/events"); !strings.Contains(p.body, "No events") {
		t.Errorf("an event was posted: %.2000s", p.body)
	}
}
