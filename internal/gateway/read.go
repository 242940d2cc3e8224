package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// answer is an answer of VirusTotal's (or of the cache) that is read whole.
type answer struct {
	status int
	// header holds answerHeaders only.
	header http.Header
	body   []byte
	// hasKey reports that body holds the connection's real key: it is replaced by
	// the caller's gateway key, and such an answer is never cached.
	hasKey bool
}

// serveRead answers a cacheable GET: from the cache when it holds a fresh answer,
// else from the flight that asks VirusTotal: identical requests (one connection, one
// canonical request) at the same time share one.
func (g *Gateway) serveRead(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	maxAge, fresh := cacheWish(r.Header, c.key.MaxAge)
	if !fresh {
		if ans, ok := g.fromCache(ctx, c, maxAge); ok {
			c.outcome = "hit"
			g.m.hits.WithLabelValues(c.key.Name).Inc()
			g.write(w, c, ans)
			return
		}
	}
	if ref := g.confirmKey(ctx, c); ref != nil {
		g.refuse(w, c, ref)
		return
	}
	c.header = forwardHeader(r.Header)
	key := c.key.Connection + "\x00" + c.flightKey()
	for tries := 0; ; tries++ {
		f, led := g.flights.join(key, fresh)
		if led {
			// A flight of the same request may have ended, its answer stored, between
			// the read of the cache above and this one's start: read it again.
			if !fresh {
				if ans, ok := g.fromCache(ctx, c, maxAge); ok {
					g.flights.end(key, f)
					g.flights.answer(f, ans, nil)
					c.outcome = "hit"
					g.m.hits.WithLabelValues(c.key.Name).Inc()
					g.write(w, c, ans)
					return
				}
			}
			g.lead(ctx, w, c, key, f)
			return
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			c.outcome = "canceled"
			return
		}
		var ref *refusal
		if errors.As(f.err, &ref) && ref.reason == "budget" && tries < 2 {
			// The request that led waited at its own key's priority and max wait;
			// this one waits at its own.
			continue
		}
		if f.err != nil {
			g.fail(w, c, f.err)
			return
		}
		c.outcome = "shared"
		g.m.shared.WithLabelValues(c.key.Name).Inc()
		g.write(w, c, f.ans)
		return
	}
}

// flight is one upstream request that identical requests share.
type flight struct {
	// done is closed once ans or err is set.
	done chan struct{}
	ans  *answer
	err  error
	// answered is set when done is closed, under flights' lock.
	answered bool
}

// flights are the upstream requests under way, by connection and canonical request.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// join returns the flight of key, a new one that the caller leads (led) when there is
// none, or when the caller wants VirusTotal asked again (fresh) and the one there has
// answered already.
func (fs *flights) join(key string, fresh bool) (f *flight, led bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok && !(fresh && f.answered) {
		return f, false
	}
	if fs.m == nil {
		fs.m = make(map[string]*flight)
	}
	f = &flight{done: make(chan struct{})}
	fs.m[key] = f
	return f, true
}

// answer hands f's outcome to its requests.
func (fs *flights) answer(f *flight, ans *answer, err error) {
	fs.mu.Lock()
	f.ans, f.err, f.answered = ans, err, true
	fs.mu.Unlock()
	close(f.done)
}

// end forgets f: a request for key from now on starts a flight of its own.
func (fs *flights) end(key string, f *flight) {
	fs.mu.Lock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	fs.mu.Unlock()
}

// lead runs the flight f of c's request and answers it: it takes a unit, asks
// VirusTotal and stores the answer, so that a request that comes after it, to this
// process or another, finds it in the cache. It stores the answer before handing it
// to the flight's requests and its own client, unless the connection's cache stores
// it behind (Upstream.StoredBehind): then it answers first, and the flight is shared
// until the answer is held in this process. It goes on when its client goes away
// (others may wait for it), and the request ends once the flight is over, so that a
// server shutting down waits for the store too.
func (g *Gateway) lead(ctx context.Context, w http.ResponseWriter, c *call, key string, f *flight) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.key.MaxWait+g.timeout)
	defer cancel()
	ans, err := g.fetch(fctx, c)
	if err == nil && c.up.StoredBehind {
		g.flights.answer(f, ans, nil)
		if g.answerLed(ctx, w, c, ans, nil) {
			// The answer's last bytes go now, not when the request ends.
			http.NewResponseController(w).Flush()
		}
		g.store(fctx, c, ans)
		g.flights.end(key, f)
		return
	}
	if err == nil {
		g.store(fctx, c, ans)
	}
	// Forgotten first, so that a request that retries after a refusal starts a
	// flight of its own.
	g.flights.end(key, f)
	g.flights.answer(f, ans, err)
	g.answerLed(ctx, w, c, ans, err)
}

// answerLed answers the client of the request that led a flight with its outcome,
// unless it went away; it reports whether it wrote an answer of VirusTotal's.
func (g *Gateway) answerLed(ctx context.Context, w http.ResponseWriter, c *call, ans *answer, err error) bool {
	switch {
	case ctx.Err() != nil:
		c.outcome = "canceled"
		return false
	case err != nil:
		g.fail(w, c, err)
		return false
	}
	c.outcome = "miss"
	g.write(w, c, ans)
	return true
}

// fetch asks VirusTotal for c's GET, after taking a unit of the budget.
func (g *Gateway) fetch(ctx context.Context, c *call) (*answer, error) {
	if err := g.take(ctx, c); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	req, err := g.request(ctx, c, nil, 0)
	if err != nil {
		return nil, err
	}
	resp, err := g.send(ctx, c, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return g.readAnswer(ctx, c, resp)
}

// readAnswer reads VirusTotal's answer whole and tells the limiter of a 429.
func (g *Gateway) readAnswer(ctx context.Context, c *call, resp *http.Response) (*answer, error) {
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= maxAnswer {
		buf.Grow(int(n) + bytes.MinRead) // read at once, without growing
	}
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, maxAnswer+1))
	body := buf.Bytes()
	if err != nil || len(body) > maxAnswer {
		if err == nil {
			err = errors.New("answer too large")
		}
		g.log.WarnContext(ctx, "gateway: VirusTotal's answer could not be read", "key", c.key.Name, "route", c.rt.endpoint,
			"error", err.Error())
		return nil, &refusal{status: http.StatusServiceUnavailable, code: vt.CodeTransient, reason: "upstream",
			message: "Transient server error. Retry might work."}
	}
	ans := &answer{status: resp.StatusCode, header: http.Header{}, body: body,
		hasKey: bytes.Contains(body, []byte(c.up.APIKey))}
	for _, k := range answerHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			ans.header[k] = v
		}
	}
	g.throttled(ctx, c, resp.StatusCode, resp.Header, body)
	return ans, nil
}

// write sends ans to the client: the real key replaced by the caller's gateway key,
// the links pointing at the gateway.
func (g *Gateway) write(w http.ResponseWriter, c *call, ans *answer) {
	body := ans.body
	if ans.hasKey {
		with := c.given
		if with == "" {
			with = "[REDACTED]"
		}
		body = replaceKey(body, c.up.APIKey, with)
	}
	at := links(body, c.upBase, c.base)
	h := w.Header()
	for k, v := range ans.header {
		h[k] = v
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)+len(at)*(len(c.base)-len(c.upBase))))
	if c.outcome != "" {
		h.Set("X-Vtsoar-Cache", c.outcome)
	}
	w.WriteHeader(ans.status)
	if len(at) == 0 {
		w.Write(body)
		return
	}
	// Rewritten into one buffer and written at once: one system call fewer than
	// writing it in pieces.
	buf := bodyBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	writeLinks(buf, body, at, c.upBase, c.base)
	w.Write(buf.Bytes())
	if buf.Cap() <= maxPooledBuffer {
		bodyBuffers.Put(buf)
	}
}

// bodyBuffers hold the answers whose links are rewritten; maxPooledBuffer bounds the
// size of one kept for the next.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 1 << 20

// cacheWish reads the client's Cache-Control: no-cache (or max-age=0) asks VirusTotal
// again (fresh); max-age=N lowers the key's max age.
func cacheWish(h http.Header, keyMaxAge time.Duration) (maxAge time.Duration, fresh bool) {
	maxAge = keyMaxAge
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "no-cache" || d == "no-store":
				return 0, true
			case strings.HasPrefix(d, "max-age="):
				if n, err := strconv.ParseInt(strings.TrimPrefix(d, "max-age="), 10, 64); err == nil && n >= 0 {
					maxAge = min(maxAge, time.Duration(n)*time.Second)
				}
			}
		}
	}
	return maxAge, maxAge <= 0
}

// cacheKey is where c's answer is kept in the cache: kind and id.
func (c *call) cacheKey() (ioc.Kind, string) {
	switch c.rt.read {
	case readObject:
		return c.rt.obj.Kind, c.rt.obj.ID
	case readAnalysis:
		return kindAnalysis, c.rt.analysisID
	}
	return kindPage, c.rt.pageKey
}

// flightKey names c's upstream request: objects by their canonical id, so that a URL
// asked by its two ids shares one flight.
func (c *call) flightKey() string {
	if c.rt.read == readObject {
		return string(c.rt.obj.Kind) + "\x00" + canonicalID(c.rt.obj)
	}
	kind, id := c.cacheKey()
	return string(kind) + "\x00" + id
}

// fromCache returns c's answer from the cache if it holds one younger than maxAge (a
// completed analysis at any age); a failing cache is a miss.
func (g *Gateway) fromCache(ctx context.Context, c *call, maxAge time.Duration) (*answer, bool) {
	kind, id := c.cacheKey()
	if kind == kindAnalysis {
		maxAge = 0 // any age
	}
	e, ok, err := c.up.Cache.Get(ctx, kind, id, maxAge)
	if err != nil {
		g.log.WarnContext(ctx, "gateway: cache read failed; asking VirusTotal", "key", c.key.Name, "route", c.rt.endpoint,
			"error", err.Error())
		return nil, false
	}
	if !ok {
		return nil, false
	}
	if c.rt.community {
		m, ok, err := c.up.Cache.Get(ctx, kindCommunity, c.communityID(), 0)
		if err != nil || (ok && !m.FetchedAt.Before(e.FetchedAt)) {
			return nil, false
		}
	}
	if e.NotFound {
		body := e.Body
		if len(body) == 0 {
			body = errorBody(vt.CodeNotFound, noun(kind)+" "+strconv.Quote(id)+" not found")
		}
		return &answer{status: http.StatusNotFound, header: jsonOnly, body: body}, true
	}
	return &answer{status: http.StatusOK, header: jsonOnly, body: e.Body}, true
}

// jsonOnly is the header of an answer from the cache: read, never changed.
var jsonOnly = http.Header{"Content-Type": {"application/json"}}

// communityID names the object whose comments and votes c is about.
func (c *call) communityID() string {
	return string(c.rt.collection) + "/" + canonicalID(c.rt.obj)
}

// communityMark is the entry that marks, at now, the comments and votes of c's object
// changed.
func communityMark(c *call, now time.Time) cache.Entry {
	return cache.Entry{Kind: kindCommunity, ID: c.communityID(), Body: []byte("{}"), FetchedAt: now}
}

// store keeps what may be kept of an answer to c: a report (or VirusTotal's not
// found) under every id of its object, a completed analysis, a page; never an
// answer that holds the real key.
func (g *Gateway) store(ctx context.Context, c *call, ans *answer) {
	if ans.hasKey {
		g.log.WarnContext(ctx, "gateway: an answer holds the connection's key; not cached", "key", c.key.Name, "route", c.rt.endpoint)
		return
	}
	now := g.now()
	var e cache.Entry
	switch {
	case ans.status == http.StatusNotFound && c.rt.read == readObject && vt.ErrorOf(ans.status, ans.header, ans.body).Code == vt.CodeNotFound:
		e = command.NotFoundEntry(c.rt.obj, now)
		e.Body = ans.body
	case ans.status != http.StatusOK:
		return
	case c.rt.read == readObject:
		var err error
		if e, err = command.CacheEntry(c.rt.obj, ans.body, now); err != nil {
			g.log.WarnContext(ctx, "gateway: VirusTotal's report not understood; not cached", "key", c.key.Name,
				"route", c.rt.endpoint, "error", err.Error())
			return
		}
	case c.rt.read == readAnalysis:
		obj, done := analysed(ans.body)
		if !done {
			return
		}
		if obj.Kind != "" {
			g.invalidate(ctx, c.up, obj)
		}
		e = cache.Entry{Kind: kindAnalysis, ID: c.rt.analysisID, Body: ans.body, FetchedAt: now}
	default:
		e = cache.Entry{Kind: kindPage, ID: c.rt.pageKey, Body: ans.body, FetchedAt: now}
	}
	if err := c.up.Cache.Put(ctx, e); err != nil {
		g.log.WarnContext(ctx, "gateway: cache write failed", "key", c.key.Name, "route", c.rt.endpoint, "error", err.Error())
	}
}

// analysed reads an analysis: whether it is completed, and the object it analysed
// (meta.file_info.sha256, meta.url_info.id) when it says.
func analysed(body []byte) (ioc.Observable, bool) {
	var a struct {
		Data struct {
			Attributes struct {
				Status string `json:"status"`
			} `json:"attributes"`
		} `json:"data"`
		Meta struct {
			FileInfo struct {
				SHA256 string `json:"sha256"`
			} `json:"file_info"`
			URLInfo struct {
				ID  string `json:"id"`
				URL string `json:"url"`
			} `json:"url_info"`
		} `json:"meta"`
	}
	if json.Unmarshal(body, &a) != nil || a.Data.Attributes.Status != "completed" {
		return ioc.Observable{}, false
	}
	var o ioc.Observable
	switch {
	case a.Meta.FileInfo.SHA256 != "":
		o, _ = ioc.ParseAs(ioc.KindFile, a.Meta.FileInfo.SHA256)
	case a.Meta.URLInfo.URL != "":
		o, _ = ioc.ParseAs(ioc.KindURL, a.Meta.URLInfo.URL)
	case a.Meta.URLInfo.ID != "":
		o, _ = ioc.ParseAs(ioc.KindURL, a.Meta.URLInfo.ID)
	}
	return o, true
}

// staleAt is the fetch time an entry is given to make it stale for every max age.
var staleAt = time.Unix(1, 0).UTC()

// invalidate makes the cached report of o stale (when there is one), so that the next
// read asks VirusTotal: the object changed (a rescan, a comment, a vote, a new
// analysis).
func (g *Gateway) invalidate(ctx context.Context, up *Upstream, o ioc.Observable) {
	e, ok, err := up.Cache.Get(ctx, o.Kind, o.ID, 0)
	if err != nil || !ok || e.FetchedAt.Equal(staleAt) {
		return
	}
	e.FetchedAt = staleAt
	if err := up.Cache.Put(ctx, e); err != nil {
		g.log.WarnContext(ctx, "gateway: cache write failed", "kind", o.Kind, "error", err.Error())
	}
}
