// Package vtsim is an offline emulator of the VirusTotal API v3, an http.Handler that
// answers /api/v3 with VirusTotal's envelopes, object ids, content types, error codes
// and HTTP statuses. vtsoar's tests, benchmarks and demos run against it; SOAR teams can
// use it (`vtsoar emulate`) to test playbooks without spending quota.
//
//	srv := httptest.NewServer(vtsim.MustNew(vtsim.Options{AnalysisTime: time.Second}))
//	// GET srv.URL + "/api/v3/files/44d88612fea8a8f36de82e1278abb02f" with an x-apikey header
//
// The examples serve it in-process and ask it as VirusTotal is asked; package vt's
// examples point a client at it.
//
// # The deterministic universe
//
// Every well-formed id exists, unless
//   - the first hex digit of SHA-256(canonical id) is 0 (one id in 16 is "not found"), or
//   - it is an all-zero hash, or
//   - it is a domain, or a URL whose host is, under the reserved ".invalid" TLD.
//
// Canonical ids: a file hash in lower-case hex (md5, sha1 or sha256 as asked); an IP
// address in net/netip's text form; a domain in lower case without a trailing dot; a URL
// by its sha256 id form (the lower-case hex SHA-256 of the canonical URL), whichever id
// form was asked.
//
// Everything about an object is drawn from that digest d = SHA-256(canonical id):
//   - d[0]: existence (d[0] < 0x10 means not found).
//   - d[1]: the risk band, and so last_analysis_stats:
//     0-159 clean (62.5%): 0 malicious, 0 suspicious, reputation 0..19;
//     160-191 low (12.5%): 0-2 malicious plus 0-2 suspicious, at least one of them, fewer
//     than 3 malicious and 5 in all, reputation 0..-2;
//     192-223 medium (12.5%): 3-9 malicious (3 + d[2] mod 7), 0-2 suspicious;
//     224-255 high (12.5%): 10 or more malicious (10 + d[2] mod (3/4 of the engines - 10)),
//     0-2 suspicious, reputation -10..-99.
//     With vtsoar's default risk policy the bands read ZeroRisk, Low, Medium and High.
//   - d[4..7] and seeded generators: which engines detect, result names, an occasional
//     timeout; file engines that do not scan the file's type answer "type-unsupported".
//   - d[8..15]: dates (first seen and last analysis, between 2014 and 2025, independent
//     of the clock), the file type (exe, dll, pdf, elf, zip, js, doc), threat family and
//     category, AS / country for IPs, registrar for domains.
//
// The EICAR test file (md5 44d88612fea8a8f36de82e1278abb02f, sha1
// 3395856ce81f2b7382dee72602f798b642f14140, sha256
// 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f) always exists and is
// High: 62 of its file engines flag it malicious.
//
// Files have three hashes. A file first seen by one hash gets the other two from a keyed
// digest of it (for example sha256 = SHA-256("vtsim-alias:sha256:" + md5)), and the
// emulator remembers the aliases in memory: asked afterwards by its sha1 or sha256 it is
// the same object (same verdict, same attributes). An uploaded file has the real hashes
// of its bytes. Verdicts of a file come from the digest of the hash it was first seen by
// (of its sha256 once uploaded).
//
// A URL asked by its sha256 id that the emulator never saw as text gets a generated
// "url" attribute. A URL first submitted by POST /urls exists once its analysis
// completes, whatever the digest rule says; an uploaded file likewise.
//
// # Endpoints
//
// Under /api/v3: files (GET by md5, sha1 or sha256; POST /files multipart "file", up to
// 32 MB; GET /files/upload_url, whose single-use URL <base>/_upload/<token> takes up to
// 650 MB for an hour; POST /files/{id}/analyse; GET /files/{id}/behaviour_summary; GET
// /files/{id}/download_url and /files/{id}/download, premium), urls (POST /urls with a
// multipart or urlencoded "url"; GET by base64url or sha256 id; POST
// /urls/{id}/analyse), domains, ip_addresses (IPv4 and IPv6), relationships for all
// four (GET /{collection}/{id}/{relationship} for objects, .../relationships/{name} for
// descriptors, and ?relationships=a,b on an object), comments and votes (GET and POST
// /{collection}/{id}/comments and /votes), analyses, /search, /intelligence/search
// (premium), /widget/url, /users/{id}, /users/{id}/overall_quotas, /metadata. The
// widget page is served at /ui/widget/html/{token} (no API key, valid 72 hours; an
// expired one is 400 BadRequestError, as VirusTotal documents).
//
// The relationships are vt's table (vt.Relationships), the one record of VirusTotal's
// documented relationships, from which the handlers and /metadata are generated.
// Premium ones answer 403 ForbiddenError unless the key is in Options.PremiumKeys;
// "own-data" ones (user_votes) list only the caller's own votes; an unknown name
// answers 400 InvalidArgumentError. limit defaults to 10; over 40 it is 400
// BadRequestError. Each (object, relationship) holds a deterministic number of items
// (0-44 for files, URLs, domains, IPs, resolutions and comments), paged by opaque
// cursors (meta.cursor, links.next); meta.count gives the total. A one-to-one
// relationship answers {"data": <object or null>, "meta": {"count": 1 or 0}}:
// network_location is the URL's own host (its IP address object when the URL names
// one, else its domain), a domain's parent its registered domain (public suffix plus
// one label) and its immediate_parent the name without its first label (none for a
// registered domain), sigma_analysis (deprecated) the file's Sigma analysis.
//
// Comments and votes posted to the emulator are kept in memory and listed first by
// comments, votes and user_votes; a user's new vote on an object replaces their
// previous one; words of a comment starting with '#' are its tags.
//
// Downloads are premium and counted in intelligence_downloads_monthly: download_url
// answers a signed URL of the emulator (<base>/_download/<token>, no key, valid an
// hour), download redirects to it. The emulator has the bytes of the EICAR test file
// and of files uploaded to it (up to 4 MB each); any other file's URL answers 404
// NotFoundError.
//
// Analyses are "queued" for the first third of Options.AnalysisTime, "in-progress"
// (with a growing share of engine results) until it ends, then "completed" with the
// results the object then shows in last_analysis_results.
//
// # Keys, quotas and faults
//
// Any non-empty x-apikey is accepted except "bad-key" (401 WrongCredentialsError "Wrong
// API key"); no key is 401 AuthenticationRequiredError "X-Apikey header is missing".
// Quotas count per key, per calendar minute (UTC) and per UTC day (reset at 00:00 UTC);
// past them the answer is 429 QuotaExceededError and the refused request is not counted.
// GET /users/{id}/overall_quotas is not counted and is served past the quota, as
// VirusTotal documents. Latency (+ Jitter) delays each request, abandoning it if the
// client goes away.
//
// Options.FailMix answers a share of the requests (after authentication, before the
// quota: a failure spends none) with each Fault: 503 TransientError, 504
// DeadlineExceededError, 429 TooManyRequestsError (a rate refusal, distinct from
// QuotaExceededError) and 404 NotFoundError as VirusTotal's JSON errors, and 502html
// and 403html, the HTML "502 Bad Gateway" and "403 Forbidden" pages a proxy in front
// of VirusTotal answers. FailRate is the 503 share.
// ParseFailMix reads "503=0.1,504=0.05,429=0.05,502html=0.05". Jitter and the failures
// draw from a generator seeded by Options.Seed.
//
// GET /users/{id} accepts the caller's own API key or the user id the emulator shows for
// it ("vtsim-user-" + 10 hex digits of a hash of the key); its quotas show what this key
// used (daily, hourly, monthly). Its "apikey" attribute is the caller's key, as in
// VirusTotal's user object: whatever shows a user must keep it out.
//
// # Outside the VirusTotal paths
//
// GET /_emulator/stats answers {"requests": N, "by_endpoint": {"GET /files/{id}": N},
// "by_status": {"200": N}, "by_user": {...}, "by_fault": {"503": N, "502html": N}}: every
// /api/v3 request (and upload URL post) is counted, errors included, by route pattern
// without the /api/v3 prefix, and each injected failure by its Fault. POST
// /_emulator/reset clears those counters and every key's quota usage; with ?all=true it
// also forgets uploads, scans, analyses and hash aliases. Neither needs a key nor counts.
//
// # DataDir
//
// Options.DataDir names a directory of JSON files holding real VirusTotal objects
// ({"data": {"type": ..., "id": ...}}); GET for such an object (a file by any of its
// hashes) answers the file's bytes as they are.
package vtsim
