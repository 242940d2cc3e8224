package vt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorString(t *testing.T) {
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, 404, []byte(`{"error": {"code": "NotFoundError", "message": "File \"xyz\" not found"}}`))
	})
	_, err := c.GetFile(context.Background(), "xyz")
	want := `virustotal: GET /files/{id}: 404 NotFoundError: File "xyz" not found`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}

func TestJSONErrorAnswers(t *testing.T) {
	tests := []struct {
		status int
		body   string
		code   string
		is     map[string]bool
	}{
		{403, `{"error":{"code":"ForbiddenError","message":"You are not allowed to perform the requested operation"}}`, CodeForbidden,
			map[string]bool{"forbidden": true}},
		{401, `{"error":{"code":"UserNotActiveError","message":"User is not active"}}`, CodeUserNotActive,
			map[string]bool{"credentials": true}},
		{429, `{"error":{"code":"TooManyRequestsError","message":"Too many requests"}}`, CodeTooManyRequests,
			map[string]bool{"quota": true}},
		{503, `{"error":{"code":"TransientError","message":"Please retry"}}`, CodeTransient,
			map[string]bool{"transient": true}},
		{400, `{"error":{"code":"InvalidArgumentError","message":"bad id"}}`, CodeInvalidArgument, map[string]bool{}},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, tc.status, []byte(tc.body)) },
				WithRetry(RetryPolicy{MaxAttempts: 1}))
			_, err := c.GetFile(context.Background(), "x")
			var e *Error
			if !errors.As(err, &e) || e.StatusCode != tc.status || e.Code != tc.code {
				t.Fatalf("err = %v", err)
			}
			got := map[string]bool{
				"forbidden": IsForbidden(err), "credentials": IsWrongCredentials(err), "quota": IsQuotaExceeded(err),
				"transient": IsTransient(err), "notfound": IsNotFound(err),
			}
			for k, v := range got {
				if v != tc.is[k] {
					t.Errorf("%s = %v", k, v)
				}
			}
		})
	}
}

func TestNonJSONAnswers(t *testing.T) {
	html := "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n" + strings.Repeat("<p>filler</p>\n", 40) + "</body></html>"
	tests := []struct {
		name     string
		status   int
		ctype    string
		body     string
		code     string
		msg      string // prefix of the message
		contains string
		is       func(error) bool
		notJSON  bool // Error.NotJSON
	}{
		{"HTML 502", 502, "text/html; charset=utf-8", html, "HTTP502",
			fmt.Sprintf("non-JSON answer (text/html, %d bytes): <html> <head><title>502 Bad Gateway</title>", len(html)), "…", IsTransient, true},
		{"empty 500", 500, "text/plain", "", "HTTP500", "empty answer (text/plain)", "", nil, true},
		{"text 429", 429, "text/plain", "Rate limit exceeded, slow down\n", CodeTooManyRequests,
			"non-JSON answer (text/plain, 31 bytes): Rate limit exceeded, slow down", "", IsQuotaExceeded, true},
		{"HTML 404", 404, "text/html", "<h1>Not Found</h1>", CodeNotFound, "non-JSON answer (text/html, 18 bytes)", "", IsNotFound, true},
		{"HTML 403", 403, "text/html", "<h1>Forbidden</h1>", CodeForbidden, "non-JSON answer", "", IsForbidden, true},
		{"empty 401", 401, "", "", CodeAuthenticationRequired, "empty answer (no content type)", "", IsWrongCredentials, true},
		{"empty 503", 503, "", "", CodeTransient, "empty answer", "", IsTransient, true},
		{"empty 504 GET", 504, "", "", CodeDeadlineExceeded, "empty answer", "", IsTransient, true},
		{"JSON without error", 500, "application/json", `{"oops": true}`, "HTTP500", `unexpected JSON answer (application/json, 14 bytes): {"oops": true}`, "", nil, false},
		{"truncated JSON 200", 200, "application/json", `{"data": {"id": "abc", "type": "file", "attri`, CodeInvalidResponse,
			"malformed JSON answer (application/json, 45 bytes): unexpected end of JSON input: {\"data\"", "", nil, false},
		{"HTML 200", 200, "text/html", "<html>maintenance</html>", CodeInvalidResponse, "non-JSON answer (text/html, 24 bytes)", "", nil, true},
		{"JSON 200 without data", 200, "application/json", `{"meta": {}}`, CodeInvalidResponse, `unexpected JSON answer (application/json, 12 bytes): answer has no "data" member`, "", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				} else {
					w.Header()["Content-Type"] = nil
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}, WithRetry(RetryPolicy{MaxAttempts: 1}))
			_, err := c.GetFile(context.Background(), "x")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.StatusCode != tc.status || e.Code != tc.code || !strings.HasPrefix(e.Message, tc.msg) || !strings.Contains(e.Message, tc.contains) {
				t.Errorf("error = %d %s %q\nwant     %d %s %q...", e.StatusCode, e.Code, e.Message, tc.status, tc.code, tc.msg)
			}
			if strings.HasSuffix(err.Error(), ": EOF") || strings.HasPrefix(e.Message, "invalid character") {
				t.Errorf("unclear error %q", err)
			}
			if len([]rune(e.Message)) > 400 {
				t.Errorf("message of %d characters", len(e.Message))
			}
			if tc.is != nil && !tc.is(err) {
				t.Errorf("helper does not match %v", err)
			}
			if e.NotJSON() != tc.notJSON {
				t.Errorf("NotJSON() = %v, want %v", e.NotJSON(), tc.notJSON)
			}
			if rec.count() != 1 {
				t.Errorf("%d requests", rec.count())
			}
		})
	}
}

func TestKeyNeverInErrorsOrLogs(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	upper := strings.ToUpper(testKey)
	var n int
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		switch n {
		case 1:
			answer(w, 401, []byte(`{"error":{"code":"WrongCredentialsError","message":"Wrong API key `+testKey+`"}}`))
		case 2:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(503)
			fmt.Fprintf(w, "<p>key %s rejected</p>", upper)
		case 3:
			answer(w, 200, []byte(`{"data": {"id": "`+testKey+`", "type": "fil`))
		default:
			answer(w, 404, []byte(`{"error":{"code":"NotFoundError","message":"User \"`+testKey+`\" not found"}}`))
		}
	}, WithLogger(logger), WithRetry(RetryPolicy{MaxAttempts: 1}))
	var errs []error
	for range 3 {
		_, err := c.GetFile(context.Background(), "x")
		errs = append(errs, err)
	}
	_, err := c.GetUser(context.Background(), testKey)
	errs = append(errs, err)
	// A network error on a path that carries the key (GET /users/{key}).
	c2, err := New(testKey, WithServerURL("http://"+closedAddr(t)), WithLogger(logger),
		WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.GetUser(context.Background(), testKey)
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d: no error", i)
		}
		mustNotContainKey(t, fmt.Sprintf("error %d", i), err.Error())
		if !strings.Contains(err.Error(), Redacted) && i != 4 {
			t.Errorf("error %d does not show where the key was scrubbed: %v", i, err)
		}
		if e, ok := asError(err); ok {
			mustNotContainKey(t, "Message", e.Message)
		}
	}
	if !IsTransient(errs[4]) || !strings.Contains(errs[4].Error(), "GET /users/{id}") {
		t.Errorf("network error %v", errs[4])
	}
	mustNotContainKey(t, "logs", logs.String())
	if !strings.Contains(logs.String(), "endpoint=\"GET /files/{id}\"") || !strings.Contains(logs.String(), "virustotal retry") {
		t.Errorf("logs lack the expected lines:\n%s", logs.String())
	}
}

func TestHelpersOnOtherErrors(t *testing.T) {
	plain := errors.New("boom")
	wrapped := fmt.Errorf("outer: %w", &Error{StatusCode: 404, Code: CodeNotFound})
	if IsNotFound(plain) || !IsNotFound(wrapped) || IsTransient(nil) || IsTransient(context.Canceled) {
		t.Error("helpers misclassify")
	}
	if IsTransient(&Error{StatusCode: 400, Code: CodeBadRequest}) || !IsTransient(&Error{StatusCode: 502, Code: "HTTP502"}) {
		t.Error("IsTransient on status")
	}
}

// A key of any length is out of the errors and logs of a request whose path carries
// it, and of VirusTotal's message naming it, while the rest of the text is kept.
func TestShortKeyNeverInErrorsOrLogs(t *testing.T) {
	for _, key := range []string{"abc", "a", testKey} {
		t.Run(fmt.Sprintf("%d characters", len(key)), func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			retry := WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
			down, err := New(key, WithServerURL("http://"+closedAddr(t)), WithLogger(logger), retry)
			if err != nil {
				t.Fatal(err)
			}
			_, err1 := down.CurrentUser(context.Background())
			_, err2 := down.CurrentOverallQuotas(context.Background())
			c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
				answer(w, 404, []byte(`{"error":{"code":"NotFoundError","message":"User \"`+key+`\" not found"}}`))
			}, WithLogger(logger), retry)
			c.apiKey = key
			_, err3 := c.CurrentUser(context.Background())
			for i, err := range []error{err1, err2, err3} {
				if err == nil {
					t.Fatalf("call %d: no error", i)
				}
				msg := err.Error()
				if strings.Contains(msg, "/users/"+key) || strings.Contains(msg, `"`+key+`"`) || !strings.Contains(msg, Redacted) {
					t.Errorf("error %d shows the key: %s", i, msg)
				}
			}
			if !strings.Contains(err1.Error(), "connection refused") || !strings.Contains(err1.Error(), "/api/v3/users/"+Redacted+`"`) {
				t.Errorf("the network error lost its text: %v", err1)
			}
			if l := logs.String(); strings.Contains(l, "/users/"+key) || !strings.Contains(l, "virustotal request failed") {
				t.Errorf("logs:\n%s", l)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"key=ABCDEF123 and abcdef123", "key=[REDACTED] and [REDACTED]"},
		{"nothing here", "nothing here"},
		{"abcdef12", "abcdef12"},
	} {
		if got := Redact(tc.in, "abcdef123"); got != tc.want {
			t.Errorf("redact(%q) = %q", tc.in, got)
		}
	}
	// A short key is replaced where it stands as a value (a path segment, a quoted
	// string, an assignment, the whole text), not inside other words.
	for _, tc := range []struct{ in, secret, want string }{
		{`Get "http://h:1/api/v3/users/abc": dial tcp`, "abc", `Get "http://h:1/api/v3/users/[REDACTED]": dial tcp`},
		{`GET /users/a/overall_quotas: a data analysis`, "a", `GET /users/[REDACTED]/overall_quotas: a data analysis`},
		{`User "ABC" not found; abcdef, fabc, 'abc'`, "abc", `User "[REDACTED]" not found; abcdef, fabc, '[REDACTED]'`},
		{"a", "a", Redacted},
		{"key=a&b=a", "a", "key=[REDACTED]&b=[REDACTED]"},
		{"ünïcödé/ü", "ü", "ünïcödé/[REDACTED]"},
		{"anything", "", "anything"},
	} {
		if got := Redact(tc.in, tc.secret); got != tc.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tc.in, tc.secret, got, tc.want)
		}
	}
	if got := snippet("a\n\n b\x00\tc"+strings.Repeat("x", 300), 10); got != "a b cxxxxx…" {
		t.Errorf("snippet = %q", got)
	}
}
