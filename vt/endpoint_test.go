package vt

import "testing"

func TestEndpoint(t *testing.T) {
	for _, c := range []struct{ method, path, want string }{
		{"GET", "https://www.virustotal.com/api/v3/files/44d88612fea8a8f36de82e1278abb02f", "GET /files/{id}"},
		{"GET", "/api/v3/files/upload_url", "GET /files/upload_url"},
		{"POST", "/api/v3/files", "POST /files"},
		{"POST", "/api/v3/urls/aHR0cDovL3guY29tLw/analyse", "POST /urls/{id}/analyse"},
		{"GET", "/api/v3/ip_addresses/8.8.8.8/resolutions", "GET /ip_addresses/{id}/{relationship}"},
		{"GET", "/api/v3/domains/example.com/relationships/subdomains", "GET /domains/{id}/relationships/{relationship}"},
		{"POST", "/api/v3/files/abc/comments", "POST /files/{id}/comments"},
		{"GET", "/api/v3/users/somekey/overall_quotas", "GET /users/{id}/overall_quotas"},
		{"GET", "/api/v3/files/abc/behaviour_summary", "GET /files/{id}/behaviour_summary"},
		{"GET", "/api/v3/search", "GET /search"},
		{"GET", "/api/v3/intelligence/search", "GET /intelligence/search"},
		{"GET", "/api/v3/metadata", "GET /metadata"},
		{"GET", "/api/v3/collections/x", "GET other"},
		{"GET", "/api/v3/files/a/b/c/d", "GET other"},
		{"POST", "https://www.virustotal.com/_ah/upload/AMmfu6/", "POST {upload_url}"},
		{"GET", "/ui/widget/html/tok", "GET /ui/widget/html/{token}"},
	} {
		if got := Endpoint(c.method, c.path); got != c.want {
			t.Errorf("Endpoint(%s, %s) = %q, want %q", c.method, c.path, got, c.want)
		}
	}
}
