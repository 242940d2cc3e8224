package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/vtsoar/vtsoar/internal/auth"
)

// headerLog keeps the X-Apikey header of each request a server got, by path.
type headerLog struct {
	mu   sync.Mutex
	keys map[string][]string
}

func (l *headerLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = map[string][]string{}
	}
	l.keys[r.URL.Path] = append(l.keys[r.URL.Path], r.Header.Get("X-Apikey"))
}

func (l *headerLog) get(path string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.keys[path]...)
}

// A redirect of VirusTotal's to another host is followed without the connection's key
// (Go drops Authorization and Cookie on such a redirect, not X-Apikey); one to
// VirusTotal's own host keeps it. Real HTTP servers on loopback.
func TestGatewayRedirectKeepsTheKeyHome(t *testing.T) {
	const realKey = "real-key-of-the-connection-never-elsewhere-0123"
	domain := `{"data":{"id":"%s","type":"domain","attributes":{}}}`
	var otherLog, vtLog headerLog
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherLog.add(r)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, strings.Replace(domain, "%s", "away.com", 1))
	}))
	defer other.Close()
	vt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vtLog.add(r)
		switch r.URL.Path {
		case "/api/v3/domains/away.com":
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		case "/api/v3/domains/here.com":
			http.Redirect(w, r, "/api/v3/domains/final.com", http.StatusTemporaryRedirect)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, strings.Replace(domain, "%s", "here.com", 1))
		}
	}))
	defer vt.Close()

	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	st, g := gatewayOn(t, "c", vt.URL, "premium", realKey, hc)
	defer st.Close()
	gw := httptest.NewServer(g)
	defer gw.Close()
	key, _, err := auth.CreateGatewayKey(ctx, st, auth.GatewayKeyOptions{Name: "k", Connection: "c"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"away.com", "here.com"} {
		req, _ := http.NewRequest(http.MethodGet, gw.URL+"/api/v3/domains/"+d, nil)
		req.Header.Set("x-apikey", key)
		res, err := gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", d, res.Status, body)
		}
	}
	if got := otherLog.get("/landing"); len(got) != 1 || got[0] != "" {
		t.Errorf("the other host got %d requests, with X-Apikey %v; want one without it", len(got), len(got) > 0 && got[0] != "")
	}
	if got := vtLog.get("/api/v3/domains/final.com"); len(got) != 1 || got[0] != realKey {
		t.Errorf("VirusTotal's own redirect: %d requests, want one with the connection's key", len(got))
	}
}
