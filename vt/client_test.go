package vt

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		opts    []Option
		wantErr string
	}{
		{"empty key", "", nil, "empty API key"},
		{"blank key", "   ", nil, "empty API key"},
		{"key with newline", "abc\ndef", nil, "control characters"},
		{"ftp server", testKey, []Option{WithServerURL("ftp://vt.example")}, "scheme must be http or https"},
		{"no host", testKey, []Option{WithServerURL("https://")}, "no host"},
		{"server with api path", testKey, []Option{WithServerURL("https://www.virustotal.com/api/v3")}, "leave out /api/v3"},
		{"server with path", testKey, []Option{WithServerURL("https://vt.example/x")}, "must not have a path"},
		{"server with query", testKey, []Option{WithServerURL("https://vt.example/?a=b")}, "query"},
		{"server with user", testKey, []Option{WithServerURL("https://u:secretpw@vt.example")}, "user information"},
		{"nil http client", testKey, []Option{WithHTTPClient(nil)}, "nil *http.Client"},
		{"empty user agent", testKey, []Option{WithUserAgent("")}, "user agent"},
		{"bad proxy scheme", testKey, []Option{WithProxy("ftp://proxy:21")}, "scheme must be"},
		{"proxy without host", testKey, []Option{WithProxy("http://")}, "no host"},
		{"bad proxy with password", testKey, []Option{WithProxy("ftp://u:secretpw@proxy:21")}, "scheme must be"},
		{"negative timeout", testKey, []Option{WithTimeout(-time.Second)}, "negative"},
		{"negative retry", testKey, []Option{WithRetry(RetryPolicy{MaxAttempts: -1})}, "negative"},
		{"proxy on custom transport", testKey, []Option{WithHTTPClient(&http.Client{Transport: roundTripFunc(nil)}), WithProxy("http://p:3128")}, "needs an *http.Transport"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.key, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New = %v, %v; want error containing %q", c, err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error shows the URL's password: %v", err)
			}
		})
	}
}

// ParseServerURL and ParseProxyURL are what the options check, for callers that
// store a URL before any client is made.
func TestParseServerAndProxyURL(t *testing.T) {
	u, err := ParseServerURL(" HTTPS://VT.Example:8443/ ")
	if err != nil || u.String() != "https://vt.example:8443" {
		t.Fatalf("ParseServerURL = %v, %v", u, err)
	}
	if _, err := ParseServerURL("http://vt.example/api/v3"); err == nil || strings.HasPrefix(err.Error(), "virustotal:") {
		t.Errorf("a path: %v (want an error without the package's prefix, for callers to wrap)", err)
	}
	p, err := ParseProxyURL("socks5h://ops:pw@proxy:1080")
	if err != nil || p.Host != "proxy:1080" || p.User.Username() != "ops" {
		t.Fatalf("ParseProxyURL = %v, %v", p, err)
	}
	if _, err := ParseProxyURL("gopher://ops:secretpw@proxy"); err == nil || strings.Contains(err.Error(), "secretpw") {
		t.Errorf("a proxy of another scheme: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewDefaultsAndServerPerClient(t *testing.T) {
	a, err := New(testKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(testKey, WithServerURL("HTTP://LocalHost:8089/"))
	if err != nil {
		t.Fatal(err)
	}
	if a.ServerURL() != DefaultServerURL || b.ServerURL() != "http://localhost:8089" {
		t.Errorf("server URLs %q %q", a.ServerURL(), b.ServerURL())
	}
	if a.timeout != DefaultTimeout || a.retry != DefaultRetryPolicy {
		t.Errorf("defaults: timeout %s retry %+v", a.timeout, a.retry)
	}
	if !strings.HasPrefix(a.userAgent, "vtsoar/") {
		t.Errorf("user agent %q", a.userAgent)
	}
}

func TestRequestHeaders(t *testing.T) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, []byte(`{"data":{"id":"x","type":"file"}}`))
	})
	if _, err := c.GetFile(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	r := rec.last()
	if r.Header.Get("X-Apikey") != testKey || r.Header.Get("Accept") != "application/json" ||
		r.Header.Get("Accept-Encoding") != "gzip" || !strings.HasPrefix(r.Header.Get("User-Agent"), "vtsoar/") {
		t.Errorf("headers %v", r.Header)
	}
	c2, rec2, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, []byte(`{"data":{"id":"x"}}`)) },
		WithUserAgent("playbook/1.0"))
	if _, err := c2.GetFile(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if got := rec2.last().Header.Get("User-Agent"); got != "playbook/1.0" {
		t.Errorf("User-Agent %q", got)
	}
}

func TestIDsArePathEscaped(t *testing.T) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, []byte(`{"data":{"id":"x"}}`)) })
	if _, err := c.GetURL(context.Background(), "a/b?c#d e"); err != nil {
		t.Fatal(err)
	}
	if got := rec.last().URL.EscapedPath(); got != "/api/v3/urls/a%2Fb%3Fc%23d%20e" {
		t.Errorf("path %q", got)
	}
	if rec.last().URL.RawQuery != "" {
		t.Errorf("query %q", rec.last().URL.RawQuery)
	}
	for _, id := range []string{"", "..", "a\nb"} {
		if _, err := c.GetFile(context.Background(), id); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("GetFile(%q) = %v, want ErrInvalidArgument", id, err)
		}
	}
	if rec.count() != 1 {
		t.Errorf("%d requests; invalid ids must not be sent", rec.count())
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGzipAnswers(t *testing.T) {
	body := fixture(t, "file_report_crowdsourced.json")
	gz := gzipped(t, body)
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			answer(w, 200, body)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		answer(w, 200, gz)
	})
	f, err := c.GetFile(context.Background(), "6b60666d6ace3a450d54fe7b915c46632172ca0d4127d87873f0c111560e66cb")
	if err != nil {
		t.Fatalf("GetFile: %v", err)
	}
	if rec.last().Header.Get("Accept-Encoding") != "gzip" {
		t.Fatal("gzip not asked for")
	}
	if !bytes.Equal(f.Raw, body) || f.Attributes.LastAnalysisStats.Malicious != 54 {
		t.Errorf("gzip body not decoded: %d bytes raw, stats %+v", len(f.Raw), f.Attributes.LastAnalysisStats)
	}

	// A gzip error answer decodes too.
	c2, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		answer(w, 404, gzipped(t, fixture(t, "error_not_found_docs.json")))
	})
	if _, err := c2.GetFile(context.Background(), "x"); !IsNotFound(err) {
		t.Errorf("gzip 404 = %v", err)
	}

	// A body labelled gzip that is not gzip is a clear error.
	c3, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		answer(w, 200, body[:100])
	})
	_, err = c3.GetFile(context.Background(), "x")
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidResponse || !strings.Contains(e.Message, "not valid gzip") {
		t.Errorf("bad gzip = %v", err)
	}
}

func TestProxyHTTP(t *testing.T) {
	body := fixture(t, "ip_report_demisto.json")
	var seen atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Method + " " + r.URL.String() + " key=" + r.Header.Get("X-Apikey"))
		answer(w, 200, body)
	}))
	defer proxy.Close()
	c, err := New(testKey, WithServerURL("http://vt.invalid"), WithProxy(proxy.URL), WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	ip, err := c.GetIPAddress(context.Background(), "23.129.64.215")
	if err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	if ip.ID != "23.129.64.215" {
		t.Errorf("id %q", ip.ID)
	}
	if got, _ := seen.Load().(string); got != "GET http://vt.invalid/api/v3/ip_addresses/23.129.64.215 key="+testKey {
		t.Errorf("proxy saw %q", got)
	}
}

func TestProxyHTTPSUsesConnect(t *testing.T) {
	var connect atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		connect.Store(r.Method + " " + r.Host)
		http.Error(w, "no tunnels here", http.StatusForbidden)
	}))
	defer proxy.Close()
	base := &http.Client{Transport: &http.Transport{}}
	c, err := New(testKey, WithServerURL("https://vt.invalid"), WithProxy(proxy.URL), WithHTTPClient(base), WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFile(context.Background(), "x")
	if err == nil {
		t.Fatal("no error through a refusing proxy")
	}
	if got, _ := connect.Load().(string); got != "CONNECT vt.invalid:443" {
		t.Errorf("proxy saw %q, want CONNECT vt.invalid:443", got)
	}
	if base.Transport.(*http.Transport).Proxy != nil {
		t.Error("WithProxy modified the caller's transport")
	}
	mustNotContainKey(t, "error", err.Error())
}

func TestRedirectDropsKeyForOtherHosts(t *testing.T) {
	otherRec := &recorder{}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherRec.add(r)
		answer(w, 200, []byte(`{"data":{"id":"moved","type":"file"}}`))
	}))
	defer other.Close()
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/away"):
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		case strings.HasSuffix(r.URL.Path, "/here"):
			http.Redirect(w, r, "/api/v3/files/final", http.StatusFound)
		default:
			answer(w, 200, []byte(`{"data":{"id":"final","type":"file"}}`))
		}
	})
	if f, err := c.GetFile(context.Background(), "away"); err != nil || f.ID != "moved" {
		t.Fatalf("GetFile = %v, %v", f, err)
	}
	if otherRec.count() != 1 || otherRec.last().Header.Get("X-Apikey") != "" {
		t.Errorf("the key was forwarded to another host")
	}
	if _, err := c.GetFile(context.Background(), "here"); err != nil {
		t.Fatal(err)
	}
	if k := rec.last().Header.Get("X-Apikey"); k != testKey || rec.last().URL.Path != "/api/v3/files/final" {
		t.Errorf("same-host redirect lost the key")
	}
}

func TestPerAttemptTimeout(t *testing.T) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}, WithTimeout(20*time.Millisecond), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	_, err := c.GetFile(context.Background(), "slow")
	if err == nil || !IsTransient(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a transient timeout", err)
	}
	if rec.count() != 2 {
		t.Errorf("%d attempts, want 2 (a GET that timed out is retried)", rec.count())
	}
}

func TestCallerContextEndsCall(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	})
	_, err := c.GetFile(ctx, "x")
	if !errors.Is(err, context.Canceled) || IsTransient(err) {
		t.Fatalf("err = %v", err)
	}
	if rec.count() != 1 {
		t.Errorf("%d attempts after cancel", rec.count())
	}
}

func TestPriority(t *testing.T) {
	if PriorityFrom(context.Background()) != PriorityInteractive {
		t.Error("default priority")
	}
	ctx := WithPriority(context.Background(), PriorityBackground)
	if PriorityFrom(ctx) != PriorityBackground || PriorityBackground.String() != "background" {
		t.Error("priority not carried")
	}
	spy := &limiterSpy{}
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, []byte(`{"data":{"id":"x"}}`)) }, WithLimiter(spy))
	if _, err := c.GetDomain(WithPriority(context.Background(), PriorityEnrichment), "example.com"); err != nil {
		t.Fatal(err)
	}
	if len(spy.waits) != 1 || spy.waits[0] != (Request{Method: "GET", Endpoint: "GET /domains/{id}", Priority: PriorityEnrichment}) {
		t.Errorf("limiter saw %+v", spy.waits)
	}
}

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
