package gateway

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// forward sends c's request to VirusTotal with a unit of the budget and answers what
// VirusTotal answers, never cached: the request body is streamed up, a JSON answer is
// read whole (the key replaced, the links rewritten), any other answer (a download)
// is streamed down.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	if err := g.take(ctx, c); err != nil {
		g.fail(w, c, err)
		return
	}
	c.outcome = "forward"
	c.header = forwardHeader(r.Header)
	var body io.Reader
	length := r.ContentLength
	if length != 0 && r.Body != nil && r.Body != http.NoBody {
		body = r.Body
	}
	var submitted string
	if c.rt.submitsURL && body != nil {
		// A URL's form is small: read, it tells which URL's report becomes stale.
		b, err := io.ReadAll(io.LimitReader(body, maxForm+1))
		if err != nil || len(b) > maxForm {
			g.fail(w, c, &refusal{status: http.StatusBadRequest, code: vt.CodeBadRequest, reason: "request",
				message: "The request body could not be read"})
			return
		}
		submitted = formURL(r.Header, b)
		body, length = bytes.NewReader(b), int64(len(b))
	}
	sctx := ctx
	if !c.rt.long {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, g.timeout)
		defer cancel()
	}
	req, err := g.request(sctx, c, body, length)
	if err != nil {
		g.fail(w, c, unavailable())
		return
	}
	g.relay(ctx, w, c, req, func(ans *answer) (*answer, error) {
		if c.rt.uploadURL {
			var err error
			if ans, err = g.ownUploadURL(c, ans); err != nil {
				return nil, err
			}
		}
		g.changed(context.WithoutCancel(ctx), c, submitted)
		return ans, nil
	})
}

// relay sends req to VirusTotal and answers the client with what comes back: a JSON
// answer read whole (the key replaced, the links rewritten, and, for a success, after
// success says what becomes of it), anything else streamed as it comes.
func (g *Gateway) relay(ctx context.Context, w http.ResponseWriter, c *call, req *http.Request, success func(*answer) (*answer, error)) {
	resp, err := g.send(req.Context(), c, req)
	if err != nil {
		g.fail(w, c, err)
		return
	}
	defer resp.Body.Close()
	if !isJSON(resp.Header.Get("Content-Type")) {
		g.stream(w, c, resp)
		return
	}
	ans, err := g.readAnswer(ctx, c, resp)
	if err == nil && success != nil && ans.status >= 200 && ans.status < 300 {
		ans, err = success(ans)
	}
	if err != nil {
		g.fail(w, c, err)
		return
	}
	g.write(w, c, ans)
}

// changed makes stale what a successful write changed: the object's cached report
// (a rescan, a comment, a vote; a submitted URL's), and its comments and votes.
func (g *Gateway) changed(ctx context.Context, c *call, submitted string) {
	switch {
	case c.rt.changes:
		g.invalidate(ctx, c.up, c.rt.obj)
		if c.rt.commented {
			if err := c.up.Cache.Put(ctx, communityMark(c, g.now())); err != nil {
				g.log.WarnContext(ctx, "gateway: cache write failed", "key", c.key.Name, "error", err.Error())
			}
		}
	case submitted != "":
		if o, err := ioc.ParseAs(ioc.KindURL, submitted); err == nil {
			g.invalidate(ctx, c.up, o)
		}
	}
}

// maxForm bounds the form of POST /urls that the gateway reads.
const maxForm = 1 << 20

// formURL returns the "url" field of a POST /urls body (urlencoded or multipart).
func formURL(h http.Header, body []byte) string {
	r, err := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return ""
	}
	r.Header.Set("Content-Type", h.Get("Content-Type"))
	if err := r.ParseMultipartForm(maxForm); err != nil && err != http.ErrNotMultipart {
		return ""
	}
	return r.FormValue("url")
}

// stream copies an answer that is not JSON (a file's bytes) to the client as it
// comes.
func (g *Gateway) stream(w http.ResponseWriter, c *call, resp *http.Response) {
	h := w.Header()
	for _, k := range answerHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	if resp.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// isJSON reports whether a Content-Type is JSON's.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || mt == "application/problem+json")
}
