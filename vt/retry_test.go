package vt

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestRetryThenSuccess(t *testing.T) {
	spy := &limiterSpy{}
	var n int
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		switch n {
		case 1:
			answer(w, 503, []byte(`{"error":{"code":"TransientError","message":"try again"}}`))
		case 2:
			w.WriteHeader(504)
		default:
			answer(w, 200, []byte(`{"data":{"id":"ok","type":"file"}}`))
		}
	}, WithLimiter(spy), WithRetry(RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}))
	f, err := c.GetFile(context.Background(), "x")
	if err != nil || f.ID != "ok" {
		t.Fatalf("GetFile = %v, %v", f, err)
	}
	if rec.count() != 3 || len(spy.waits) != 3 {
		t.Errorf("%d requests, %d limiter waits; want 3 and 3 (one per attempt)", rec.count(), len(spy.waits))
	}
	if len(spy.throttled) != 0 {
		t.Error("Throttled called without a 429")
	}
}

func TestRetryBound(t *testing.T) {
	spy := &limiterSpy{}
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, 429, []byte(`{"error":{"code":"QuotaExceededError","message":"Quota exceeded"}}`))
	}, WithLimiter(spy), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}))
	_, err := c.GetFile(context.Background(), "x")
	if !IsQuotaExceeded(err) {
		t.Fatalf("err = %v", err)
	}
	if rec.count() != 3 || len(spy.waits) != 3 || len(spy.throttled) != 3 {
		t.Errorf("%d requests, %d waits, %d throttled; want 3 each", rec.count(), len(spy.waits), len(spy.throttled))
	}
	for _, d := range spy.throttled {
		if d != 0 {
			t.Errorf("Throttled retryAfter = %s without a Retry-After", d)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spy := &limiterSpy{}
		var first time.Time
		var gap time.Duration
		var n int
		c, _ := serveInBubble(t, func(w http.ResponseWriter, r *http.Request) {
			n++
			if n == 1 {
				first = time.Now()
				w.Header().Set("Retry-After", "7")
				answer(w, 429, []byte(`{"error":{"code":"TooManyRequestsError","message":"slow down"}}`))
				return
			}
			gap = time.Since(first)
			answer(w, 200, []byte(`{"data":{"id":"ok"}}`))
		}, WithLimiter(spy), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Second}))
		if _, err := c.GetFile(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
		// The backoff alone would be at most 1ms: only the header explains 7s.
		if gap != 7*time.Second {
			t.Errorf("retried after %s, want the Retry-After of 7s", gap)
		}
		if len(spy.throttled) != 1 || spy.throttled[0] != 7*time.Second {
			t.Errorf("Throttled got %v, want [7s]", spy.throttled)
		}
	})
}

func TestRetryAfterCappedAndReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n int
		start := time.Now()
		c, _ := serveInBubble(t, func(w http.ResponseWriter, r *http.Request) {
			n++
			w.Header().Set("Retry-After", "3600")
			answer(w, 503, []byte(`{"error":{"code":"TransientError","message":"later"}}`))
		}, WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Second}))
		_, err := c.GetFile(context.Background(), "x")
		var e *Error
		if !errors.As(err, &e) || e.RetryAfter != time.Hour {
			t.Fatalf("err = %v, RetryAfter should be 1h", err)
		}
		if took := time.Since(start); n != 2 || took != 10*time.Second {
			t.Errorf("%d attempts in %v; a Retry-After above MaxDelay must be capped to it (10s)", n, took)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	for in, want := range map[string]time.Duration{
		"":     0,
		"7":    7 * time.Second,
		" 0 ":  0,
		"-3":   0,
		"soon": 0,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second,
		now.Add(-5 * time.Minute).Format(http.TimeFormat): 0,
		"999999999": 24 * time.Hour,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBackoffFullJitterBounds(t *testing.T) {
	c := &Client{retry: RetryPolicy{MaxAttempts: 10, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}}
	for attempt := 1; attempt <= 40; attempt++ {
		ceiling := min(time.Second, 100*time.Millisecond<<min(attempt-1, 20))
		var maxSeen time.Duration
		for range 200 {
			d := c.backoff(attempt, 0)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: delay %s outside [0, %s]", attempt, d, ceiling)
			}
			maxSeen = max(maxSeen, d)
		}
		if maxSeen < ceiling/4 {
			t.Errorf("attempt %d: delays never above %s: no exponential growth", attempt, maxSeen)
		}
	}
	if d := c.backoff(1, 5*time.Second); d != time.Second {
		t.Errorf("Retry-After above MaxDelay gives %s", d)
	}
	if d := c.backoff(1, 300*time.Millisecond); d != 300*time.Millisecond {
		t.Errorf("Retry-After gives %s", d)
	}
}

func TestPostNotRetriedOn504(t *testing.T) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(504) })
	_, err := c.ScanURL(context.Background(), "http://example.com/")
	if !IsTransient(err) || rec.count() != 1 {
		t.Errorf("err %v after %d requests; a POST must not be repeated after a 504", err, rec.count())
	}
}

func TestPostRetriedOn503And429(t *testing.T) {
	var n int
	var bodies []string
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		switch n {
		case 1:
			answer(w, 503, []byte(`{"error":{"code":"TransientError","message":"x"}}`))
		case 2:
			answer(w, 429, []byte(`{"error":{"code":"QuotaExceededError","message":"x"}}`))
		default:
			answer(w, 200, []byte(`{"data":{"type":"analysis","id":"u-abc-123"}}`))
		}
	})
	d, err := c.ScanURL(context.Background(), "http://example.com/a b")
	if err != nil || d.ID != "u-abc-123" || d.Type != "analysis" {
		t.Fatalf("ScanURL = %+v, %v", d, err)
	}
	wantRequest(t, rec.last(), "POST", "/api/v3/urls")
	if ct := rec.last().Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type %q", ct)
	}
	for _, b := range bodies {
		if b != "url=http%3A%2F%2Fexample.com%2Fa+b" {
			t.Errorf("body %q", b)
		}
	}
	if len(bodies) != 3 {
		t.Errorf("%d attempts", len(bodies))
	}
}

// dropServer reads one request per connection, then closes it without answering.
func dropServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			if req, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
				_, _ = io.Copy(io.Discard, req.Body)
			}
			conn.Close()
		}
	}()
	return "http://" + l.Addr().String()
}

func TestNetworkErrorAfterSending(t *testing.T) {
	url := dropServer(t)
	spy := &limiterSpy{}
	c, err := New(testKey, WithServerURL(url), WithLimiter(spy),
		WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	// A POST that reached the server is not repeated.
	_, err = c.RescanFile(context.Background(), "abc")
	if err == nil || !IsTransient(err) {
		t.Fatalf("RescanFile = %v", err)
	}
	if len(spy.waits) != 1 {
		t.Errorf("POST sent %d times after a connection drop, want 1", len(spy.waits))
	}
	// A GET is.
	spy.waits = nil
	_, err = c.GetFile(context.Background(), "abc")
	if err == nil || len(spy.waits) != 3 {
		t.Errorf("GET: err %v after %d attempts, want 3", err, len(spy.waits))
	}
	if !strings.Contains(err.Error(), "virustotal: GET /files/{id}: ") {
		t.Errorf("network error text %q", err)
	}
}

func TestPostRetriedWhenNothingWasSent(t *testing.T) {
	spy := &limiterSpy{}
	c, err := New(testKey, WithServerURL("http://"+closedAddr(t)), WithLimiter(spy),
		WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ScanURL(context.Background(), "http://example.com/")
	if err == nil || !IsTransient(err) {
		t.Fatalf("ScanURL = %v", err)
	}
	if len(spy.waits) != 3 {
		t.Errorf("%d attempts after connection refused, want 3 (nothing reached the server)", len(spy.waits))
	}
}

func TestLimiterErrorReturnedAsIs(t *testing.T) {
	quota := &Error{StatusCode: 429, Code: CodeQuotaExceeded, Message: "daily budget spent, resets at 00:00 UTC"}
	spy := &limiterSpy{err: quota}
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, []byte(`{"data":{"id":"x"}}`)) }, WithLimiter(spy))
	_, err := c.GetFile(context.Background(), "x")
	var e *Error
	if !errors.As(err, &e) || e != quota || !IsQuotaExceeded(err) {
		t.Fatalf("err = %v, want the limiter's *Error", err)
	}
	if rec.count() != 0 {
		t.Errorf("%d requests sent although the limiter refused", rec.count())
	}
	spy.err = context.DeadlineExceeded
	if _, err := c.GetFile(context.Background(), "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}

func TestContextEndsBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, rec := serveInBubble(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			answer(w, 503, []byte(`{"error":{"code":"TransientError","message":"x"}}`))
		}, WithRetry(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: time.Minute}))
		start := time.Now()
		_, err := c.GetFile(ctx, "x")
		if !errors.Is(err, context.DeadlineExceeded) || !IsTransient(err) {
			t.Errorf("err = %v; want the context's error and the last answer", err)
		}
		if took := time.Since(start); rec.count() != 1 || took != 5*time.Second {
			t.Errorf("%d requests in %s, want 1 and the context's 5s", rec.count(), took)
		}
	})
}

// A proxy's HTML 502 page: a GET is retried and succeeds; the error after the last
// attempt is typed and says what the body was; a POST is not sent twice (the request
// may have reached VirusTotal).
func TestBadGatewayHTML(t *testing.T) {
	const page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	bad := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, page)
	}
	n := 0
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			bad(w)
			return
		}
		answer(w, 200, []byte(`{"data":{"id":"ok","type":"file"}}`))
	})
	if f, err := c.GetFile(context.Background(), "x"); err != nil || f.ID != "ok" || rec.count() != 2 {
		t.Fatalf("GET after a 502: %v, %v, %d requests", f, err, rec.count())
	}
	always, rec2, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { bad(w) })
	_, err := always.GetFile(context.Background(), "x")
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 502 || e.Code != "HTTP502" || !IsTransient(err) ||
		!strings.HasPrefix(e.Message, "non-JSON answer (text/html, ") || !strings.Contains(e.Message, "502 Bad Gateway") {
		t.Fatalf("err = %v", err)
	}
	if rec2.count() != 3 {
		t.Errorf("%d attempts, want the policy's 3", rec2.count())
	}
	before := rec2.count()
	if _, err := always.ScanURL(context.Background(), "https://example.com/"); !IsTransient(err) {
		t.Errorf("POST: %v", err)
	}
	if rec2.count()-before != 1 {
		t.Errorf("a POST answered 502 was sent %d times", rec2.count()-before)
	}
}

// TestRetriedStatusesAreWhatIsRetried: the client retries a GET and a POST on the
// statuses RetriedStatuses names for their method (which --retries' help and
// DESIGN.md are made from), and on no other.
func TestRetriedStatusesAreWhatIsRetried(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 408, 409, 429, 500, 501, 502, 503, 504} {
		c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) },
			WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
		for _, call := range []struct {
			method string
			do     func() error
		}{
			{http.MethodGet, func() error { _, err := c.GetFile(context.Background(), "x"); return err }},
			{http.MethodPost, func() error { _, err := c.ScanURL(context.Background(), "http://example.com/"); return err }},
		} {
			before := rec.count()
			if err := call.do(); err == nil {
				t.Fatalf("%s answered %d: no error", call.method, status)
			}
			want := 1
			if slices.Contains(RetriedStatuses(call.method), status) {
				want = 2
			}
			if got := rec.count() - before; got != want {
				t.Errorf("%s answered %d was sent %d times, want %d", call.method, status, got, want)
			}
		}
	}
}
