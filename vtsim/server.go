package vtsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vtsoar/vtsoar/internal/jsonenc"
	"github.com/vtsoar/vtsoar/vt"
)

// Options configures a Server. The zero value is a usable emulator: no latency, no
// failures, no quota, analyses that complete at once.
type Options struct {
	// Latency is added to every /api/v3 request; Jitter adds a uniform random extra in
	// [0, Jitter). A request whose context ends while it waits is abandoned.
	Latency, Jitter time.Duration
	// QuotaMinute and QuotaDay are the requests each API key may make per calendar minute
	// and per UTC day (reset at 00:00 UTC). Zero means unlimited.
	QuotaMinute, QuotaDay int
	// FailRate is the share of /api/v3 requests, in [0, 1], answered 503
	// TransientError: the 503 share of FailMix, which takes precedence when it gives
	// one.
	FailRate float64
	// FailMix is the share of /api/v3 requests answered with each failure, as
	// VirusTotal or a proxy in front of it sends it (see Fault); the shares add up
	// to at most 1. ParseFailMix reads it from "503=0.1,504=0.05,429=0.05,502html=0.05".
	FailMix FailMix
	// AnalysisTime is how long an analysis takes: queued for its first third, then
	// in-progress, then completed. Zero completes analyses at once.
	AnalysisTime time.Duration
	// DataDir, if set, is a directory of JSON files holding real VirusTotal objects
	// ({"data": {"type": ..., "id": ...}}); those objects are served as they are.
	DataDir string
	// PremiumKeys are the API keys allowed premium-only relationships and endpoints.
	PremiumKeys []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Seed seeds the random draws of Jitter, FailRate and FailMix (the universe itself
	// does not depend on it).
	Seed uint64
	// Logger receives one debug line per request (never the API key); nil discards.
	Logger *slog.Logger
}

// Server is the emulator, an http.Handler. Create it with New.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	now     func() time.Time
	premium map[string]bool // by key hash
	log     *slog.Logger

	rngMu sync.Mutex
	rng   *rand.Rand

	data map[string][]byte // "type:id" -> raw JSON from DataDir

	mu       sync.Mutex
	files    map[string]*fileRec // by md5, sha1 and sha256
	urls     map[string]*urlRec  // by sha256 id
	analyses map[string]*analysis
	uploads  map[string]time.Time // upload token -> expiry
	comments map[string][]*commentRec
	votes    map[string][]*voteRec
	contents map[string][]byte // sha256 -> content of small uploaded files
	kept     int64             // bytes in contents

	faults []faultShare // FailMix in the order of Faults

	widgetKey []byte
	cache     sync.Map // sha256 -> *cachedBody of files that cannot change
	cached    atomic.Int64

	statsMu    sync.Mutex
	requests   int
	byEndpoint map[string]int
	byStatus   map[string]int
	byUser     map[string]int
	byFault    map[string]int
	usage      map[string]*usage // by key hash
}

// maxRecords bounds the remembered aliases; past it, aliases of objects nobody
// uploaded or analysed are forgotten (their attributes do not change, but an md5 seen
// first would then get a new sha256 if asked again by a derived hash).
const maxRecords = 1 << 20

// maxCached bounds the rendered file bodies kept (about 20 kB each).
const maxCached = 20000

// New returns an emulator configured by opts. It fails when DataDir cannot be read
// or the failure shares (FailRate, FailMix) are out of range.
func New(opts Options) (*Server, error) {
	s := &Server{
		opts:       opts,
		now:        opts.Now,
		premium:    map[string]bool{},
		log:        opts.Logger,
		rng:        rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		data:       map[string][]byte{},
		files:      map[string]*fileRec{},
		urls:       map[string]*urlRec{},
		analyses:   map[string]*analysis{},
		uploads:    map[string]time.Time{},
		comments:   map[string][]*commentRec{},
		votes:      map[string][]*voteRec{},
		contents:   map[string][]byte{},
		byEndpoint: map[string]int{},
		byStatus:   map[string]int{},
		byUser:     map[string]int{},
		byFault:    map[string]int{},
		usage:      map[string]*usage{},
	}
	faults, err := opts.failShares()
	if err != nil {
		return nil, err
	}
	s.faults = faults
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, k := range opts.PremiumKeys {
		if k = strings.TrimSpace(k); k != "" {
			s.premium[keyHash(k)] = true
		}
	}
	wk := sha256.Sum256([]byte(fmt.Sprintf("vtsim-widget-%d", opts.Seed)))
	s.widgetKey = wk[:]
	if opts.DataDir != "" {
		if err := s.loadDataDir(opts.DataDir); err != nil {
			return nil, err
		}
	}
	s.addEICAR()
	s.routes()
	return s, nil
}

// MustNew is New for tests and examples: it panics if New fails.
func MustNew(opts Options) *Server {
	s, err := New(opts)
	if err != nil {
		panic(err)
	}
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) addEICAR() {
	rec := &fileRec{md5: eicarMD5, sha1: eicarSHA1, sha256: eicarSHA256, size: eicarSize, eicar: true,
		seed: digestOf(eicarSHA256)}
	s.files[eicarMD5], s.files[eicarSHA1], s.files[eicarSHA256] = rec, rec, rec
}

func keyHash(k string) string {
	h := sha256.Sum256([]byte("vtsim-key:" + k))
	return hex.EncodeToString(h[:])
}

// userID is the user name the emulator shows for an API key: derived, never the key.
func userID(kh string) string { return "vtsim-user-" + kh[:10] }

// Error codes VirusTotal answers with.
const (
	codeBadRequest      = "BadRequestError"
	codeInvalidArgument = "InvalidArgumentError"
	codeAuthRequired    = "AuthenticationRequiredError"
	codeWrongCreds      = "WrongCredentialsError"
	codeForbidden       = "ForbiddenError"
	codeNotFound        = "NotFoundError"
	codeQuota           = "QuotaExceededError"
	codeTooMany         = "TooManyRequestsError"
	codeTooLarge        = "RequestEntityTooLargeError"
	codeTransient       = "TransientError"
	codeDeadline        = "DeadlineExceededError"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := jsonenc.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// call is what an API handler knows about its request.
type call struct {
	base    string // scheme://host of the emulator as the client reached it
	keyHash string
	premium bool
}

// api is the signature of an /api/v3 handler.
type api func(w http.ResponseWriter, r *http.Request, c *call)

// statusWriter records the status an answer was given and reports it, through
// onStatus, once, before the status line is written: a client that has its answer can
// read the stats and find its request counted.
type statusWriter struct {
	http.ResponseWriter
	status   int
	onStatus func(status int)
}

func (sw *statusWriter) setStatus(code int) {
	if sw.status != 0 {
		return
	}
	sw.status = code
	if sw.onStatus != nil {
		sw.onStatus(code)
	}
}

func (sw *statusWriter) WriteHeader(code int) {
	sw.setStatus(code)
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	sw.setStatus(http.StatusOK)
	return sw.ResponseWriter.Write(b)
}

// handle registers an API route. The pattern is "METHOD /path" without the /api/v3
// prefix (except the upload URL's); the stats name the endpoint by that pattern.
func (s *Server) handle(pattern string, h api) { s.route(pattern, h, true) }

// handleFree registers an API route that VirusTotal does not count against the
// key's quota (GET /users/{id}/overall_quotas): it is served even when the quota is
// spent, and does not spend it.
func (s *Server) handleFree(pattern string, h api) { s.route(pattern, h, false) }

func (s *Server) route(pattern string, h api, metered bool) {
	method, path, _ := strings.Cut(pattern, " ")
	full := method + " /api/v3" + path
	if strings.HasPrefix(path, "/_upload/") {
		full = pattern
	}
	s.mux.Handle(full, s.wrap(pattern, h, metered))
}

// wrap applies, in order: latency, authentication, failure injection, quota (when
// metered), and counts the request in the stats whatever happens. An injected
// failure spends no quota.
func (s *Server) wrap(endpoint string, h api, metered bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := ""
		// The request is counted when its status is known, before the answer is
		// written (so that stats read right after an answer include it).
		sw := &statusWriter{ResponseWriter: w, onStatus: func(status int) { s.count(endpoint, status, user) }}
		defer func() {
			if sw.status == 0 {
				sw.setStatus(499) // the client went away before an answer
			}
			s.log.DebugContext(r.Context(), "vtsim request", "endpoint", endpoint, "status", sw.status, "user", user)
		}()
		if d := s.delay(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		key := r.Header.Get("x-apikey")
		if key == "" {
			writeError(sw, http.StatusUnauthorized, codeAuthRequired, "X-Apikey header is missing")
			return
		}
		if key == "bad-key" {
			writeError(sw, http.StatusUnauthorized, codeWrongCreds, "Wrong API key")
			return
		}
		c := &call{base: baseURL(r), keyHash: keyHash(key)}
		c.premium = s.premium[c.keyHash]
		user = userID(c.keyHash)
		if f := s.fault(); f != "" {
			s.countFault(f)
			writeFault(sw, f)
			return
		}
		if metered && !s.takeQuota(c.keyHash) {
			writeError(sw, http.StatusTooManyRequests, codeQuota, "Quota exceeded")
			return
		}
		h(sw, r, c)
	})
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) delay() time.Duration {
	d := s.opts.Latency
	if s.opts.Jitter > 0 {
		s.rngMu.Lock()
		d += time.Duration(s.rng.Int64N(int64(s.opts.Jitter)))
		s.rngMu.Unlock()
	}
	return d
}

// fault draws the failure this request gets, or "".
func (s *Server) fault() Fault {
	if len(s.faults) == 0 {
		return ""
	}
	s.rngMu.Lock()
	u := s.rng.Float64()
	s.rngMu.Unlock()
	for _, f := range s.faults {
		if u < f.share {
			return f.fault
		}
		u -= f.share
	}
	return ""
}

func (s *Server) countFault(f Fault) {
	s.statsMu.Lock()
	s.byFault[string(f)]++
	s.statsMu.Unlock()
}

// usage is what one API key has used, per window.
type usage struct {
	minute, hour, day, month time.Time // window starts
	nMinute, nHour, nDay     int
	nMonth                   int
	// downloads and searches count this month's file downloads and Intelligence
	// searches (the intelligence_*_monthly quotas).
	downloads, searches int
}

func (u *usage) roll(now time.Time) {
	now = now.UTC()
	if m := now.Truncate(time.Minute); !m.Equal(u.minute) {
		u.minute, u.nMinute = m, 0
	}
	if h := now.Truncate(time.Hour); !h.Equal(u.hour) {
		u.hour, u.nHour = h, 0
	}
	if d := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC); !d.Equal(u.day) {
		u.day, u.nDay = d, 0
	}
	if m := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC); !m.Equal(u.month) {
		u.month, u.nMonth, u.downloads, u.searches = m, 0, 0, 0
	}
}

// rolledUsage returns the key's usage, its windows rolled to now. s.statsMu must be
// held.
func (s *Server) rolledUsage(kh string) *usage {
	u := s.usage[kh]
	if u == nil {
		u = &usage{}
		s.usage[kh] = u
	}
	u.roll(s.now())
	return u
}

// takeQuota counts one request for the key, or reports that a window is exhausted (a
// refused request does not count).
func (s *Server) takeQuota(kh string) bool {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	u := s.rolledUsage(kh)
	if s.opts.QuotaMinute > 0 && u.nMinute >= s.opts.QuotaMinute {
		return false
	}
	if s.opts.QuotaDay > 0 && u.nDay >= s.opts.QuotaDay {
		return false
	}
	u.nMinute++
	u.nHour++
	u.nDay++
	u.nMonth++
	return true
}

// countPremium counts a file download or an Intelligence search for the key.
func (s *Server) countPremium(kh string, download bool) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	u := s.rolledUsage(kh)
	if download {
		u.downloads++
	} else {
		u.searches++
	}
}

// usageOf returns a copy of the key's usage, its windows rolled to now.
func (s *Server) usageOf(kh string) usage {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	u := s.rolledUsage(kh)
	return *u
}

func (s *Server) count(endpoint string, status int, user string) {
	s.statsMu.Lock()
	s.requests++
	s.byEndpoint[endpoint]++
	s.byStatus[strconv.Itoa(status)]++
	if user != "" {
		s.byUser[user]++
	}
	s.statsMu.Unlock()
}

// Stats is the body of GET /_emulator/stats.
type Stats struct {
	// Requests counts every /api/v3 request (and upload URL post), errors included.
	Requests int `json:"requests"`
	// ByEndpoint counts by route pattern with its method, e.g. "GET /files/{id}".
	ByEndpoint map[string]int `json:"by_endpoint"`
	// ByStatus counts by HTTP status, e.g. "200", "429".
	ByStatus map[string]int `json:"by_status"`
	// ByUser counts by the emulator's user id of the API key (never the key).
	ByUser map[string]int `json:"by_user"`
	// ByFault counts the injected failures by Fault ("503", "504", "429",
	// "502html"); they are in ByStatus too.
	ByFault map[string]int `json:"by_fault"`
}

// Stats returns a copy of the request counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	cp := func(m map[string]int) map[string]int {
		out := make(map[string]int, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return Stats{Requests: s.requests, ByEndpoint: cp(s.byEndpoint), ByStatus: cp(s.byStatus), ByUser: cp(s.byUser),
		ByFault: cp(s.byFault)}
}

// Reset clears the request counters and the quota usage of every key. With all set it
// also forgets every upload, scan, analysis, alias, comment and vote, as if the
// emulator restarted.
func (s *Server) Reset(all bool) {
	s.statsMu.Lock()
	s.requests = 0
	s.byEndpoint = map[string]int{}
	s.byStatus = map[string]int{}
	s.byUser = map[string]int{}
	s.byFault = map[string]int{}
	s.usage = map[string]*usage{}
	s.statsMu.Unlock()
	if all {
		s.mu.Lock()
		s.files = map[string]*fileRec{}
		s.urls = map[string]*urlRec{}
		s.analyses = map[string]*analysis{}
		s.uploads = map[string]time.Time{}
		s.comments = map[string][]*commentRec{}
		s.votes = map[string][]*voteRec{}
		s.contents = map[string][]byte{}
		s.kept = 0
		s.addEICAR()
		s.mu.Unlock()
	}
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /_emulator/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	s.mux.HandleFunc("POST /_emulator/reset", func(w http.ResponseWriter, r *http.Request) {
		all := r.URL.Query().Get("all") == "true"
		s.Reset(all)
		writeJSON(w, http.StatusOK, map[string]any{"reset": true, "all": all})
	})
	s.mux.HandleFunc("GET /ui/widget/html/{token}", s.widgetHTML)

	s.handle("GET /files/upload_url", s.uploadURL)
	s.handle("POST /_upload/{token}", s.uploadToURL)
	s.handle("POST /files", s.postFile)
	s.handle("GET /files/{id}", s.getFile)
	s.mux.HandleFunc("GET /_download/{token}", s.downloadContent)
	s.handle("POST /files/{id}/analyse", s.analyseFile)
	s.handle("GET /files/{id}/behaviour_summary", s.behaviourSummary)
	s.handle("GET /files/{id}/download_url", s.downloadURL)
	s.handle("GET /files/{id}/download", s.download)
	s.handle("POST /urls", s.postURL)
	s.handle("GET /urls/{id}", s.getURL)
	s.handle("POST /urls/{id}/analyse", s.analyseURL)
	s.handle("GET /domains/{id}", s.getDomain)
	s.handle("GET /ip_addresses/{id}", s.getIP)
	// Relationships, comments and votes of every collection with relationships.
	for _, col := range vt.Collections() {
		c := string(col)
		s.handle("GET /"+c+"/{id}/{relationship}", s.related(c, false))
		s.handle("GET /"+c+"/{id}/relationships/{relationship}", s.related(c, true))
		s.handle("POST /"+c+"/{id}/comments", s.postComment(c))
		s.handle("POST /"+c+"/{id}/votes", s.postVote(c))
	}

	s.handle("GET /analyses/{id}", s.getAnalysis)
	s.handle("GET /search", s.search)
	s.handle("GET /intelligence/search", s.intelligenceSearch)
	s.handle("GET /widget/url", s.widgetURL)
	s.handle("GET /users/{id}", s.getUser)
	s.handleFree("GET /users/{id}/overall_quotas", s.overallQuotas)
	s.handle("GET /metadata", s.metadata)
	// Anything else under /api/v3 is a NotFoundError, counted like the rest.
	s.mux.Handle("/api/v3/", s.wrap("* (unknown endpoint)", func(w http.ResponseWriter, r *http.Request, c *call) {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("Resource not found: %s", r.URL.Path))
	}, true))
}

// sortedKeys is a helper for deterministic iteration.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
