// Package vt is a client for the VirusTotal API v3.
//
// A Client is made with New and holds its own server URL, API version (only "v3"),
// *http.Client, user agent, proxy and retry policy: there is no package-level state.
// Every call that does I/O takes a context.Context first.
//
// The client holds no quota state. A Limiter set with WithLimiter is asked for
// permission before every request leaves, with the request's Priority (see
// WithPriority), and is told when VirusTotal answers 429, so that the layer above can
// own the request budget.
//
// Typed results keep the untouched JSON of the response beside the decoded fields
// (Object.Raw), so callers can pass VirusTotal's answer on unchanged.
//
// Errors from VirusTotal are *Error values carrying the HTTP status, VirusTotal's error
// code and message; use errors.As, or the helpers IsNotFound, IsQuotaExceeded,
// IsWrongCredentials, IsForbidden and IsTransient. The API key never appears in an error
// string or a log line.
package vt
