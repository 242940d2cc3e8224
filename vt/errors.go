package vt

import "time"

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
	Method string
	Path   string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
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
