// Package vt is a client for the VirusTotal API v3.
//
// A Client is made with New and holds its own server URL, *http.Client, user agent,
// proxy and retry policy: there is no package-level state. It speaks API v3
// (APIVersion) under the server URL. Every call that does I/O takes a
// context.Context first.
//
//	c, err := vt.New(apiKey, vt.WithServerURL("http://127.0.0.1:8089"))
//	f, err := c.GetFile(ctx, "44d88612fea8a8f36de82e1278abb02f")
//	if vt.IsNotFound(err) { ... }
//	fmt.Println(f.Attributes.LastAnalysisStats.Malicious, string(f.Raw))
//
// The examples run against the emulator of package vtsim, in-process and offline.
//
// # Reports and the current user
//
// GetFile, GetURL, GetDomain and GetIPAddress return reports whose Attributes are
// decoded (the commonly used subset); the attributes as VirusTotal sent them are the
// embedded Object's (f.Object.Attributes), and Raw is the whole answer. CurrentUser
// and CurrentOverallQuotas are the API key's own user and quotas, with the key
// nowhere in what they return; GetUser and GetOverallQuotas take any user id.
//
// IsNotFound is true for any HTTP 404, as IsForbidden is for any 403. Every error of
// the package starts with "virustotal:".
//
// # Quota
//
// The client holds no quota state. A Limiter set with WithLimiter is asked for
// permission before every request leaves, retries included, with the request's
// Priority (see WithPriority) and route pattern ("GET /files/{id}"), and is told when
// VirusTotal answers 429 with a spent quota (QuotaExceededError, a 429 that is not
// VirusTotal's JSON, or any 429 with a Retry-After), so that the layer above can own
// the request budget. A TooManyRequestsError without Retry-After refuses the request
// rate, not the quota: it is only retried. GetOverallQuotas, which VirusTotal does not
// count, does not ask the Limiter. An error from Limiter.Wait ends the call and is
// returned wrapped with %w.
//
// # Relationships
//
// Relationships, RelationshipsOf and LookupRelationship are one table of the
// relationships VirusTotal documents for files, URLs, domains and IP addresses: for
// each, the objects it returns, whether it is one-to-one, who may follow it (Access:
// public, premium, or own-data such as user_votes) and whether it is deprecated, with
// the reference page it was checked against (Relationship.Source). RelationshipPage
// and Relationship take a Relationship and an object id, so that a collection, an id
// and a name cannot be swapped:
//
//	rel := vt.MustRelationship(vt.CollectionURLs, "network_location")
//	p, err := c.RelationshipPage(ctx, rel, urlID, vt.ListOptions{})
//
// The client does not refuse a premium relationship itself (it does not know whether
// its key is premium); rel.Premium() tells the caller, and a public key gets
// VirusTotal's 403, for which IsForbidden is true.
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
// 429, 502, 503 and 504 answers and network errors are retried with exponential
// backoff and full jitter, bounded by the RetryPolicy; a Retry-After header (seconds or
// HTTP date) replaces the backoff, capped at RetryPolicy.MaxDelay. A GET is retried on
// all of them, a proxy's HTML 502 page included. A POST (scan, rescan, upload,
// comment, vote) is retried on a 429 or 503 answer, which VirusTotal sends before
// acting, and on a network error that happened before its headers were written; never
// on a 502 or 504 nor on a network error after the request was written (it may have
// been acted on). An upload streamed from an io.Reader is never sent twice once its
// first byte was read, nor a download once its first byte was written. A failed
// attempt returns nothing to cache: callers get either the answer or the error of
// the last attempt.
//
// # Transport
//
// The client asks for gzip (Accept-Encoding: gzip) and decompresses answers itself.
// Each attempt has a timeout (DefaultTimeout, WithTimeout) except uploads, which only
// their context bounds. WithProxy routes both http and https (CONNECT) traffic through
// a proxy.
package vt
