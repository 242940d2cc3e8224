package gateway

import (
	"net/url"
	"testing"
)

func TestClassify(t *testing.T) {
	q := func(s string) url.Values { v, _ := url.ParseQuery(s); return v }
	for _, c := range []struct {
		method, rel, query string
		read               read
		key                string // pageKey, or the object's kind:id
		premium, community bool
		endpoint           string
	}{
		{"GET", "/files/44D88612FEA8A8F36DE82E1278ABB02F", "", readObject, "file:44d88612fea8a8f36de82e1278abb02f", false, false, "GET /files/{id}"},
		{"GET", "/files/44d88612fea8a8f36de82e1278abb02f", "relationships=", readObject, "file:44d88612fea8a8f36de82e1278abb02f", false, false, "GET /files/{id}"},
		{"GET", "/domains/Example.COM", "relationships=subdomains", readPage, "domains/example.com?relationships=subdomains", false, false, "GET /domains/{id}"},
		{"GET", "/domains/example.com/subdomains", "limit=10&cursor=X", readPage, "domains/example.com/subdomains?cursor=X&limit=10", false, false, "GET /domains/{id}/{relationship}"},
		{"GET", "/ip_addresses/8.8.8.8/relationships/resolutions", "", readPage, "ip_addresses/8.8.8.8/relationships/resolutions", false, false, "GET /ip_addresses/{id}/relationships/{relationship}"},
		{"GET", "/files/44d88612fea8a8f36de82e1278abb02f/comments", "", readPage, "files/44d88612fea8a8f36de82e1278abb02f/comments", false, true, "GET /files/{id}/comments"},
		{"GET", "/files/44d88612fea8a8f36de82e1278abb02f/compressed_parents", "", readPage, "files/44d88612fea8a8f36de82e1278abb02f/compressed_parents", true, false, "GET /files/{id}/{relationship}"},
		{"GET", "/files/44d88612fea8a8f36de82e1278abb02f/download", "", readNone, "", true, false, "GET /files/{id}/download"},
		{"GET", "/intelligence/search", "query=p:5%2B", readPage, "intelligence/search?query=p%3A5%2B", true, false, "GET /intelligence/search"},
		{"GET", "/analyses/u-abc-1", "", readAnalysis, "", false, false, "GET /analyses/{id}"},
		{"GET", "/users/somekey", "", readNone, "", false, false, "GET /users/{id}"},
		{"POST", "/urls", "", readNone, "", false, false, "POST /urls"},
		{"GET", "/collections/x", "", readNone, "", false, false, "GET other"},
	} {
		rt := classify(c.method, c.rel, q(c.query))
		key := rt.pageKey
		if rt.read == readObject {
			key = string(rt.obj.Kind) + ":" + rt.obj.ID
		}
		if rt.read != c.read || key != c.key || rt.premium != c.premium || rt.community != c.community || rt.endpoint != c.endpoint {
			t.Errorf("classify(%s %s?%s) = read %d key %q premium %v community %v endpoint %q", c.method, c.rel, c.query,
				rt.read, key, rt.premium, rt.community, rt.endpoint)
		}
	}
}
