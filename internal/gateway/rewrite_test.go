package gateway

import (
	"bytes"
	"testing"
)

func TestRewriteLinks(t *testing.T) {
	const from, to = "https://www.virustotal.com/api/v3/", "http://vtsoar:8080/api/v3/"
	for _, c := range []struct{ in, want string }{
		{`{"links": {"self": "https://www.virustotal.com/api/v3/files/abc"}}`,
			`{"links": {"self": "http://vtsoar:8080/api/v3/files/abc"}}`},
		{"{\"links\":{\"next\" :\n \"https://www.virustotal.com/api/v3/ip_addresses/1.1.1.1/resolutions?cursor=X\",\"self\":\"https://www.virustotal.com/api/v3/x\"}}",
			"{\"links\":{\"next\" :\n \"http://vtsoar:8080/api/v3/ip_addresses/1.1.1.1/resolutions?cursor=X\",\"self\":\"http://vtsoar:8080/api/v3/x\"}}"},
		// The links' members only: any other keeps VirusTotal's bytes.
		{`{"related": "https://www.virustotal.com/api/v3/domains/x/siblings", "url": "https://www.virustotal.com/api/v3/files/y", "item": "https://www.virustotal.com/api/v3/files/z"}`,
			`{"related": "http://vtsoar:8080/api/v3/domains/x/siblings", "url": "https://www.virustotal.com/api/v3/files/y", "item": "http://vtsoar:8080/api/v3/files/z"}`},
		// The server's address inside another string is not a link.
		{`{"self": "see https://www.virustotal.com/api/v3/files/abc"}`, `{"self": "see https://www.virustotal.com/api/v3/files/abc"}`},
		{`{"myself": "https://www.virustotal.com/api/v3/files/abc"}`, `{"myself": "https://www.virustotal.com/api/v3/files/abc"}`},
		{`https://www.virustotal.com/api/v3/`, `https://www.virustotal.com/api/v3/`},
		{``, ``},
	} {
		if got := string(rewriteLinks([]byte(c.in), from, to)); got != c.want {
			t.Errorf("rewriteLinks(%s)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

func FuzzRewriteLinks(f *testing.F) {
	f.Add([]byte(`{"links": {"self": "https://vt/api/v3/files/abc", "next": "https://vt/api/v3/x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := rewriteLinks(b, "https://vt/api/v3/", "http://gw/api/v3/")
		// Rewriting back gives the input: nothing but the links' prefixes changed.
		if back := rewriteLinks(out, "http://gw/api/v3/", "https://vt/api/v3/"); string(back) != string(b) && !bytes.Contains(b, []byte("http://gw/api/v3/")) {
			t.Fatalf("round trip changed the bytes:\n%q\n%q", b, back)
		}
	})
}
