package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/store"
)

// Problem is an error answer of the API, an RFC 9457 problem details object served as
// application/problem+json.
type Problem struct {
	// Type is a URI naming the kind of problem ("about:blank" when the status says it all).
	Type string `json:"type"`
	// Title is the short, fixed summary of the kind of problem.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence, in words a user can act on.
	Detail string `json:"detail,omitempty"`
	// ResumesAt is, for a quota-exceeded problem, when the budget has a request free
	// again (also in Retry-After).
	ResumesAt *time.Time `json:"resumes_at,omitempty"`

	// retryAfter is the Retry-After of the answer, in seconds (0: none).
	retryAfter int
}

// problemTypeBase prefixes the type URIs of vtsoar's own problems.
const problemTypeBase = "https://vtsoar.dev/problems/"

// Problem types a client may branch on.
const (
	ProblemInvalidRequest   = problemTypeBase + "invalid-request"
	ProblemUnauthenticated  = problemTypeBase + "unauthenticated"
	ProblemForbidden        = problemTypeBase + "forbidden"
	ProblemNotFound         = problemTypeBase + "not-found"
	ProblemConflict         = problemTypeBase + "conflict"
	ProblemTooLarge         = problemTypeBase + "too-large"
	ProblemUnavailable      = problemTypeBase + "unavailable"
	ProblemInternal         = problemTypeBase + "internal"
	ProblemMethodNotAllowed = problemTypeBase + "method-not-allowed"
	ProblemQuotaExceeded    = problemTypeBase + "quota-exceeded"
)

// apiError is an error a handler returns to answer with a problem.
type apiError struct {
	status int
	typ    string
	detail string
	err    error // the cause, logged, never sent
	// retryAfter (seconds) and resumesAt say when to ask again (a 429).
	retryAfter int
	resumesAt  time.Time
}

func (e *apiError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.status, e.detail, e.err)
	}
	return fmt.Sprintf("%d %s", e.status, e.detail)
}

func (e *apiError) Unwrap() error { return e.err }

func badRequest(format string, a ...any) error {
	return &apiError{status: http.StatusBadRequest, typ: ProblemInvalidRequest, detail: fmt.Sprintf(format, a...)}
}

func notFound(format string, a ...any) error {
	return &apiError{status: http.StatusNotFound, typ: ProblemNotFound, detail: fmt.Sprintf(format, a...)}
}

func forbidden(format string, a ...any) error {
	return &apiError{status: http.StatusForbidden, typ: ProblemForbidden, detail: fmt.Sprintf(format, a...)}
}

func conflict(format string, a ...any) error {
	return &apiError{status: http.StatusConflict, typ: ProblemConflict, detail: fmt.Sprintf(format, a...)}
}

func unavailable(format string, a ...any) error {
	return &apiError{status: http.StatusServiceUnavailable, typ: ProblemUnavailable, detail: fmt.Sprintf(format, a...)}
}

func internal(err error) error {
	return &apiError{status: http.StatusInternalServerError, typ: ProblemInternal,
		detail: "the server failed to answer; the error is in its log", err: err}
}

// writeProblem answers with p.
func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// storeRetryAfter is the Retry-After of an answer given while the database is
// unavailable (a restart takes seconds).
const storeRetryAfter = 5 * time.Second

// problemFor turns err into the problem to answer with: a database out of reach
// (store.IsUnavailable) is a 503 unavailable, to be retried; other unexpected errors
// are 500s whose detail gives nothing away.
func problemFor(err error) (Problem, error) {
	if store.IsUnavailable(err) {
		return Problem{Type: ProblemUnavailable, Status: http.StatusServiceUnavailable,
			Detail: "the database is not answering; try again shortly"}, err
	}
	var inactive *connclient.InactiveError
	if errors.As(err, &inactive) {
		return Problem{Type: ProblemConflict, Status: http.StatusConflict, Detail: inactive.Error()}, nil
	}
	var ae *apiError
	if errors.As(err, &ae) {
		p := Problem{Type: ae.typ, Status: ae.status, Detail: ae.detail, retryAfter: ae.retryAfter}
		if !ae.resumesAt.IsZero() {
			p.ResumesAt = &ae.resumesAt
		}
		return p, ae.err
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return Problem{Type: ProblemTooLarge, Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("the request body is larger than the limit of %d bytes", mbe.Limit)}, nil
	}
	return Problem{Type: ProblemInternal, Status: http.StatusInternalServerError,
		Detail: "the server failed to answer; the error is in its log"}, err
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
