// Package vt is a client for the VirusTotal API v3.
//
// A Client is made with New and holds its own server URL, API version (only "v3"),
// *http.Client, user agent, proxy and retry policy: there is no package-level state.
// Every call that does I/O takes a context.Context first.
//
//	c, err := vt.New(apiKey, vt.WithServerURL("http://127.0.0.1:8089"))
//	f, err := c.GetFile(ctx, "44d88612fea8a8f36de82e1278abb02f")
//	if vt.IsNotFound(err) { ... }
//	fmt.Println(f.Attrs.LastAnalysisStats.Malicious, string(f.Raw))
//
// # Quota
//
// The client holds no quota state. A Limiter set with WithLimiter is asked for
// permission before every request leaves, retries included, with the request's
// Priority (see WithPriority) and route pattern ("GET /files/{id}"), and is told when
// VirusTotal answers 429, so that the layer above can own the request budget. An error
// from Limiter.Wait ends the call and is returned wrapped with %w.
//
// # Results
//
// Typed results keep the untouched JSON of the response beside the decoded fields
// (Object.Raw is the whole answer for a report; Page.Raw for a page; each listed
// Object's Raw is its element). Decoding is tolerant of the variations seen in real
// captures: see decode.go. A user's "apikey" attribute is never kept.
//
// # Errors
//
// Errors from VirusTotal are *Error values carrying the HTTP status, VirusTotal's error
// code and message; use errors.As, or the helpers IsNotFound, IsQuotaExceeded,
// IsWrongCredentials, IsForbidden and IsTransient. Their text reads
//
//	virustotal: GET /files/{id}: 404 NotFoundError: File "xyz" not found
//
// with the route pattern, never the query or the key. An error answer whose body is not
// VirusTotal's JSON error (an HTML 502 from a proxy, an empty 500, a 429 in text/plain)
// gets a code derived from its status: 400 BadRequestError, 401
// AuthenticationRequiredError, 403 ForbiddenError, 404 NotFoundError, 409
// AlreadyExistsError, 424 FailedDependencyError, 429 TooManyRequestsError, 503
// TransientError, 504 DeadlineExceededError, any other "HTTP<status>" (for example
// "HTTP502"), and a message that describes the body:
// "non-JSON answer (text/html, 512 bytes): <its first 200 characters on one line>". A
// successful status whose body cannot be decoded gives Code CodeInvalidResponse.
// Arguments refused before anything is sent wrap ErrInvalidArgument. Network errors
// (no answer) are not *Error; IsTransient is true for them. The API key never appears
// in an error string or a log line: it travels in the x-apikey header only, is not
// forwarded on redirects to another host, and is scrubbed from any message the server
// echoes.
//
// # Retries
//
// 429, 503 and 504 answers and network errors are retried with exponential backoff and
// full jitter, bounded by the RetryPolicy; a Retry-After header (seconds or HTTP date)
// replaces the backoff, capped at RetryPolicy.MaxDelay. A GET is retried on all of them.
// A POST (scan, rescan, upload) is retried on a 429 or 503 answer, which VirusTotal
// sends before acting, and on a network error that happened before its headers were
// written; never on a 504 nor on a network error after the request was written. An
// upload streamed from an io.Reader is never sent twice once its first byte was read.
//
// # Transport
//
// The client asks for gzip (Accept-Encoding: gzip) and decompresses answers itself.
// Each attempt has a timeout (DefaultTimeout, WithTimeout) except uploads, which only
// their context bounds. WithProxy routes both http and https (CONNECT) traffic through
// a proxy.
package vt
