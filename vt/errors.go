package vt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Error is an error answer from VirusTotal, or a non-JSON answer with an error status.
type Error struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Code is VirusTotal's error code (for example "NotFoundError"); for a non-JSON
	// answer it is derived from the status (see the package doc).
	Code string
	// Message is VirusTotal's message, or a description of a non-JSON answer.
	Message string
	// Method and Path are the request's method and path (never its query or key).
	// Path is the route pattern, for example "/files/{id}".
	Method string
	Path   string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration

	// derived is true when Code was derived from the status (the body was not
	// VirusTotal's JSON error).
	derived bool
	// notJSON is true when the body was not JSON at all (NotJSON).
	notJSON bool
}

// NotJSON reports whether the answer's body was not JSON at all: empty, or text that
// no JSON value starts like, such as a proxy's HTML page (what a JSON parser refuses
// at its first character). Message then describes the body.
func (e *Error) NotJSON() bool { return e.notJSON }

// Error returns "virustotal: GET /files/{id}: 404 NotFoundError: <message>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("virustotal: ")
	if e.Method != "" || e.Path != "" {
		b.WriteString(e.Method)
		if e.Method != "" && e.Path != "" {
			b.WriteByte(' ')
		}
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.StatusCode != 0 {
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteByte(' ')
	}
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// VirusTotal's error codes that callers branch on.
const (
	CodeBadRequest             = "BadRequestError"
	CodeInvalidArgument        = "InvalidArgumentError"
	CodeNotAvailableYet        = "NotAvailableYet"
	CodeUnselectiveContent     = "UnselectiveContentQueryError"
	CodeUnsupportedContent     = "UnsupportedContentQueryError"
	CodeAuthenticationRequired = "AuthenticationRequiredError"
	CodeUserNotActive          = "UserNotActiveError"
	CodeWrongCredentials       = "WrongCredentialsError"
	CodeForbidden              = "ForbiddenError"
	CodeNotFound               = "NotFoundError"
	CodeAlreadyExists          = "AlreadyExistsError"
	CodeFailedDependency       = "FailedDependencyError"
	CodeQuotaExceeded          = "QuotaExceededError"
	CodeTooManyRequests        = "TooManyRequestsError"
	CodeTransient              = "TransientError"
	CodeDeadlineExceeded       = "DeadlineExceededError"
)

// CodeInvalidResponse is not VirusTotal's: the client uses it for a successful status
// whose body it cannot decode (truncated or non-JSON), or that lacks what the call
// needs.
const CodeInvalidResponse = "InvalidResponseError"

// ErrInvalidArgument is wrapped by the errors of calls refused before anything is sent
// (empty id, page limit out of range, unknown collection, upload too large...).
var ErrInvalidArgument = errors.New("invalid argument")

func invalidArgf(format string, args ...any) error {
	return fmt.Errorf("virustotal: %w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}

// codeForStatus derives a code for an error answer without VirusTotal's JSON error
// body: 400 BadRequestError, 401 AuthenticationRequiredError, 403 ForbiddenError,
// 404 NotFoundError, 409 AlreadyExistsError, 424 FailedDependencyError,
// 429 TooManyRequestsError (a bare 429 is rate limiting; VirusTotal's JSON says
// QuotaExceededError when a quota is spent, and IsQuotaExceeded matches both),
// 503 TransientError, 504 DeadlineExceededError, any other "HTTP<status>".
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeAuthenticationRequired
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return CodeAlreadyExists
	case http.StatusFailedDependency:
		return CodeFailedDependency
	case http.StatusTooManyRequests:
		return CodeTooManyRequests
	case http.StatusServiceUnavailable:
		return CodeTransient
	case http.StatusGatewayTimeout:
		return CodeDeadlineExceeded
	}
	return "HTTP" + strconv.Itoa(status)
}

// apiError turns an error answer into an *Error, with VirusTotal's code and message
// when the body is its JSON error, else a description of the body.
func (c *Client) apiError(r *request, res *response) *Error {
	e := ErrorOf(res.status, res.header, res.body)
	e.Method, e.Path = r.method, r.routePath()
	if e.derived {
		e.Message = c.describeBody(r, res, "")
		return e
	}
	e.Code = c.scrub(r, e.Code)
	e.Message = c.scrub(r, e.Message)
	return e
}

// ErrorOf reads an error answer (its status, headers and body) as the client does:
// VirusTotal's code and message when the body is its JSON error, else a code derived
// from the status (see codeForStatus) and no message; RetryAfter from the
// Retry-After header. Method and Path are left empty, and nothing is scrubbed.
func ErrorOf(status int, header http.Header, body []byte) *Error {
	e := &Error{StatusCode: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), time.Now())}
	var env struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error != nil && env.Error.Code != "" {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		return e
	}
	e.Code = codeForStatus(status)
	e.derived, e.notJSON = true, !startsJSON(body)
	return e
}

// QuotaRefusal reports whether the error is a 429 that refuses the key's quota and so
// holds its budget: VirusTotal's QuotaExceededError, a 429 that is not VirusTotal's
// JSON error, or any 429 with a Retry-After. A TooManyRequestsError without
// Retry-After refuses the request rate, not the quota (a hold there would, when it
// recurs, read as a spent daily quota).
func (e *Error) QuotaRefusal() bool {
	return e.StatusCode == http.StatusTooManyRequests && (e.Code != CodeTooManyRequests || e.derived || e.RetryAfter > 0)
}

// malformed is the *Error of a successful answer the client cannot decode.
func (c *Client) malformed(r *request, res *response, why error) *Error {
	return &Error{StatusCode: res.status, Code: CodeInvalidResponse, Method: r.method, Path: r.routePath(),
		Message: c.describeBody(r, res, why.Error()), notJSON: !startsJSON(res.body)}
}

// describeBody says what a body that is not the expected JSON looks like:
// "non-JSON answer (text/html, 512 bytes): <first 200 characters>".
func (c *Client) describeBody(r *request, res *response, why string) string {
	ct := res.header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		ct = mt
	}
	if ct == "" {
		ct = "no content type"
	}
	if len(res.body) == 0 {
		return fmt.Sprintf("empty answer (%s)", ct)
	}
	kind := "non-JSON answer"
	if json.Valid(res.body) {
		kind = "unexpected JSON answer"
	} else if startsJSON(res.body) {
		kind = "malformed JSON answer"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, %d bytes)", kind, ct, len(res.body))
	if why != "" {
		b.WriteString(": ")
		b.WriteString(c.scrub(r, why))
	}
	b.WriteString(": ")
	b.WriteString(snippet(c.scrub(r, string(res.body)), 200))
	return b.String()
}

// startsJSON reports whether b, after white space, starts as a JSON value may: an
// object, an array, a string, a number or a literal. An empty body does not.
func startsJSON(b []byte) bool {
	fb := firstByte(b)
	return fb != 0 && strings.IndexByte(`{["-0123456789tfn`, fb) >= 0
}

// snippet returns the first n characters of s on one line, printable only.
func snippet(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	count := 0
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			space = true
			continue
		}
		if count >= n {
			b.WriteString("…")
			return b.String()
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			count++
		}
		space = false
		b.WriteRune(r)
		count++
	}
	return b.String()
}

// scrub removes the API key (and the request's other secrets) from s, ignoring case,
// as Redact does; the key is also looked for as it is written in a path.
func (c *Client) scrub(r *request, s string) string {
	s = Redact(s, c.apiKey)
	if esc := url.PathEscape(c.apiKey); esc != c.apiKey {
		s = Redact(s, esc)
	}
	if r != nil {
		for _, x := range r.extraSecrets {
			s = Redact(s, x)
		}
	}
	return s
}

// Redacted is what Redact puts in place of a secret.
const Redacted = "[REDACTED]"

// minRedactInText is the length from which a secret is redacted inside other text too.
const minRedactInText = 4

// Redact returns s with secret (an API key, a password), compared ignoring case,
// replaced by Redacted wherever it stands as a value: the whole of s, a segment of a
// URL path ("/users/KEY/..."), a quoted value ("KEY", 'KEY') or the value of an
// assignment (key=KEY). A secret of 4 characters or more is also replaced inside other
// text; a shorter one is not, so that the key "a" leaves the a of "data" alone while
// "/users/a" still reads "/users/[REDACTED]". An empty secret changes nothing.
func Redact(s, secret string) string {
	if secret == "" || len(s) < len(secret) {
		return s
	}
	inText := len(secret) >= minRedactInText
	var b strings.Builder
	last := 0 // s[:last] is written to b
	for i := 0; i+len(secret) <= len(s); {
		j := indexFold(s[i:], secret)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(secret)
		if inText || standsAlone(s, start, end) {
			b.WriteString(s[last:start])
			b.WriteString(Redacted)
			last, i = end, end
			continue
		}
		_, size := utf8.DecodeRuneInString(s[start:])
		i = start + size
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// standsAlone reports whether s[start:end] is a value of its own: at the start of s
// or after a path separator, a quote or "=", and at the end of s or before a path
// separator, a quote, or what ends a path or a query's value.
func standsAlone(s string, start, end int) bool {
	const before, after = "/\"'`=", "/\"'`?#&"
	return (start == 0 || strings.IndexByte(before, s[start-1]) >= 0) &&
		(end == len(s) || strings.IndexByte(after, s[end]) >= 0)
}

// indexFold is strings.Index ignoring ASCII/Unicode simple case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return -1
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// transportErr is a network error: the request got no answer.
type transportErr struct {
	msg string
	err error
}

func (e *transportErr) Error() string { return e.msg }
func (e *transportErr) Unwrap() error { return e.err }

func (c *Client) transportError(r *request, err error) error {
	return &transportErr{msg: "virustotal: " + r.endpoint + ": " + c.scrub(r, err.Error()), err: err}
}

func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsNotFound reports whether err is VirusTotal's NotFoundError, or any HTTP 404.
func IsNotFound(err error) bool {
	e, ok := asError(err)
	return ok && (e.Code == CodeNotFound || e.StatusCode == http.StatusNotFound)
}

// IsQuotaExceeded reports whether err is a quota or rate refusal: QuotaExceededError,
// TooManyRequestsError, or any HTTP 429.
func IsQuotaExceeded(err error) bool {
	e, ok := asError(err)
	return ok && (e.Code == CodeQuotaExceeded || e.Code == CodeTooManyRequests || e.StatusCode == http.StatusTooManyRequests)
}

// IsWrongCredentials reports whether VirusTotal refused the API key:
// WrongCredentialsError, AuthenticationRequiredError, UserNotActiveError, or any
// HTTP 401.
func IsWrongCredentials(err error) bool {
	e, ok := asError(err)
	return ok && (e.Code == CodeWrongCredentials || e.Code == CodeAuthenticationRequired ||
		e.Code == CodeUserNotActive || e.StatusCode == http.StatusUnauthorized)
}

// IsForbidden reports whether VirusTotal refused the request to this key
// (ForbiddenError, HTTP 403), as it does for premium-only endpoints on a public key.
func IsForbidden(err error) bool {
	e, ok := asError(err)
	return ok && (e.Code == CodeForbidden || e.StatusCode == http.StatusForbidden)
}

// IsTransient reports whether err may go away by itself: TransientError,
// DeadlineExceededError, HTTP 502/503/504, or a network error (no answer at all).
// A canceled context is not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if e, ok := asError(err); ok {
		return e.Code == CodeTransient || e.Code == CodeDeadlineExceeded ||
			e.StatusCode == http.StatusBadGateway || e.StatusCode == http.StatusServiceUnavailable ||
			e.StatusCode == http.StatusGatewayTimeout
	}
	var te *transportErr
	return errors.As(err, &te) && retryableNetError(te.err)
}
