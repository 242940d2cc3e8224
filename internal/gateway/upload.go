package gateway

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// uploadPath is where, under /api/v3, the gateway takes the uploads of the upload URLs
// it hands out: uploadPath + a sealed uploadToken.
const uploadPath = "/_vtsoar/upload/"

// uploadAAD binds sealed upload tokens to their use.
var uploadAAD = []byte("vtsoar gateway upload URL")

// uploadToken is what an upload URL of the gateway holds, sealed: VirusTotal's upload
// URL, which never leaves vtsoar in clear, and the key it was handed to.
type uploadToken struct {
	// URL is VirusTotal's upload URL.
	URL string `json:"u"`
	// Key is the gateway key's name, KeyHash the start of its hash (a key removed and
	// made again under that name does not inherit the URL).
	Key     string `json:"k"`
	KeyHash string `json:"h"`
	// Expires is when the URL stops being valid (Unix seconds).
	Expires int64 `json:"e"`
}

// ownUploadURL replaces VirusTotal's upload URL in ans (GET /files/upload_url's
// answer, {"data": URL}) by one of the gateway, valid for uploadTTL.
func (g *Gateway) ownUploadURL(c *call, ans *answer) (*answer, error) {
	var v struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(ans.body, &v); err != nil || v.Data == "" {
		g.log.Warn("gateway: VirusTotal's upload URL answer not understood", "key", c.key.Name)
		return nil, &refusal{status: http.StatusServiceUnavailable, code: vt.CodeTransient, reason: "upstream",
			message: "Transient server error. Retry might work."}
	}
	tok, err := json.Marshal(uploadToken{URL: v.Data, Key: c.key.Name, KeyHash: hex.EncodeToString(c.key.KeyHash[:8]),
		Expires: g.now().Add(uploadTTL).Unix()})
	if err != nil {
		return nil, err
	}
	sealed, err := g.cfg.Sealer.Seal(tok, uploadAAD)
	if err != nil {
		g.log.Error("gateway: sealing an upload URL failed", "error", err)
		return nil, unavailable()
	}
	own := c.base + strings.TrimPrefix(uploadPath, "/") + base64.RawURLEncoding.EncodeToString(sealed)
	out := *ans
	if from := jsonString(v.Data); bytes.Count(ans.body, from) == 1 {
		out.body = bytes.Replace(ans.body, from, jsonString(own), 1)
	} else {
		out.body = append(append([]byte(`{"data": `), jsonString(own)...), '}')
	}
	out.hasKey = false
	return &out, nil
}

// jsonString is s as a JSON string, without HTML escapes (as VirusTotal writes URLs).
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// serveUpload takes an upload to an upload URL of the gateway and streams it to
// VirusTotal's, with a unit of the budget of the key the URL was handed to. The
// client may send that key again (vt-go and vt-py do) or none.
func (g *Gateway) serveUpload(w http.ResponseWriter, r *http.Request, c *call, token string) {
	ctx := r.Context()
	tok, ok := g.openUpload(token)
	if !ok {
		g.refuse(w, c, &refusal{status: http.StatusBadRequest, code: vt.CodeBadRequest, reason: "request",
			message: "The upload URL is invalid, expired or was already used"})
		return
	}
	if ref := g.uploadKey(ctx, r, c, tok); ref != nil {
		g.refuse(w, c, ref)
		return
	}
	g.m.requests.WithLabelValues(c.key.Name).Inc()
	if err := g.take(ctx, c); err != nil {
		g.fail(w, c, err)
		return
	}
	c.outcome = "forward"
	c.header = forwardHeader(r.Header)
	target, err := url.Parse(tok.URL)
	if err != nil {
		g.fail(w, c, unavailable())
		return
	}
	var body io.Reader
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		body = r.Body
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), body)
	if err != nil {
		g.fail(w, c, unavailable())
		return
	}
	if body != nil {
		req.ContentLength = r.ContentLength
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if server, err := url.Parse(c.up.Server); err == nil && strings.EqualFold(target.Scheme, server.Scheme) && strings.EqualFold(target.Host, server.Host) {
		req.Header.Set("X-Apikey", c.up.APIKey)
	}
	g.relay(ctx, w, c, req, nil)
}

// openUpload opens an upload token that has not expired.
func (g *Gateway) openUpload(token string) (uploadToken, bool) {
	var tok uploadToken
	sealed, err := base64.RawURLEncoding.DecodeString(strings.TrimSuffix(token, "/"))
	if err != nil {
		return tok, false
	}
	plain, err := g.cfg.Sealer.Open(sealed, uploadAAD)
	if err != nil || json.Unmarshal(plain, &tok) != nil || tok.URL == "" {
		return tok, false
	}
	return tok, g.now().Before(time.Unix(tok.Expires, 0))
}

// uploadKey finds the key an upload is made with: the one the URL was handed to,
// which must still exist, and which the client's x-apikey, when it sends one, must be.
func (g *Gateway) uploadKey(ctx context.Context, r *http.Request, c *call, tok uploadToken) *refusal {
	wrong := &refusal{status: http.StatusUnauthorized, code: vt.CodeWrongCredentials, reason: "credentials", message: "Wrong API key"}
	var (
		k   store.GatewayKey
		up  *Upstream
		err error
	)
	if c.given = r.Header.Get("X-Apikey"); c.given != "" {
		k, up, err = g.cfg.Key(ctx, auth.HashToken(c.given))
	} else {
		k, up, err = g.cfg.KeyNamed(ctx, tok.Key)
	}
	if ref := g.keyFound(ctx, c, k, up, err); ref != nil {
		return ref
	}
	h, _ := hex.DecodeString(tok.KeyHash)
	if k.Name != tok.Key || len(h) == 0 || len(h) > len(k.KeyHash) || subtle.ConstantTimeCompare(h, k.KeyHash[:len(h)]) != 1 {
		c.key = store.GatewayKey{}
		return wrong
	}
	return nil
}
