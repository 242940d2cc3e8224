package vt

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// WidgetOptions are the optional colours of a widget: hexadecimal RGB, "ffffff" or
// "#ffffff" (3 or 6 digits).
type WidgetOptions struct {
	FG1, BG1, BG2, BD1 string
}

func validColour(s string) bool {
	h := strings.TrimPrefix(s, "#")
	if len(h) != 3 && len(h) != 6 {
		return false
	}
	for _, r := range h {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// GetWidgetURL returns the widget URL and detection ratio for an observable (a hash,
// URL, domain or IP as VirusTotal's query): GET /widget/url?query=&fg1=&bg1=&bg2=&bd1=.
func (c *Client) GetWidgetURL(ctx context.Context, query string, opts WidgetOptions) (*WidgetURL, error) {
	if strings.TrimSpace(query) == "" {
		return nil, invalidArgf("empty widget query")
	}
	q := url.Values{"query": {query}}
	for _, kv := range [...]struct{ k, v string }{{"fg1", opts.FG1}, {"bg1", opts.BG1}, {"bg2", opts.BG2}, {"bd1", opts.BD1}} {
		if kv.v == "" {
			continue
		}
		if !validColour(kv.v) {
			return nil, invalidArgf("widget colour %s=%q: expected 3 or 6 hexadecimal digits", kv.k, kv.v)
		}
		q.Set(kv.k, kv.v)
	}
	r := &request{method: http.MethodGet, endpoint: "GET /widget/url", path: "/widget/url", query: q}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, decodeWidgetBody)
}

// maxWidgetHTML bounds the widget page read into memory.
const maxWidgetHTML = 16 << 20

// GetWidgetHTML fetches the HTML of a widget from the URL GetWidgetURL returned; the
// URL must be on the client's server.
//
// VirusTotal answers widget URLs such as https://virustotal.com/ui/widget/html/TOKEN
// for the server www.virustotal.com, so a host that differs from the server's only by a
// leading "www." is accepted; any other host, another scheme, or a path without
// "/widget/html/" is refused before anything is sent. The page needs no
// authentication: the API key is never sent with it. The Limiter sees it as
// "GET /ui/widget/html/{token}".
func (c *Client) GetWidgetHTML(ctx context.Context, widgetURL string) ([]byte, error) {
	u, err := url.Parse(strings.TrimSpace(widgetURL))
	if err != nil || u.Host == "" {
		return nil, invalidArgf("widget URL is not an absolute URL")
	}
	if u.User != nil {
		return nil, invalidArgf("widget URL must not carry user information")
	}
	if !strings.EqualFold(u.Scheme, c.server.Scheme) {
		return nil, invalidArgf("widget URL scheme %q differs from the server's %q", u.Scheme, c.server.Scheme)
	}
	if !sameSite(u.Host, c.server.Host) {
		return nil, invalidArgf("widget URL host %q is not the server's %q", u.Host, c.server.Host)
	}
	if !strings.Contains(u.Path, "/widget/html/") {
		return nil, invalidArgf("widget URL path %q is not a widget page (/widget/html/...)", u.Path)
	}
	r := &request{method: http.MethodGet, endpoint: "GET /ui/widget/html/{token}", absURL: u,
		noKey: true, accept: "text/html", maxBody: maxWidgetHTML}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return res.body, nil
}

// sameSite compares hosts (with ports) ignoring case and a leading "www.".
func sameSite(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	return strings.TrimPrefix(a, "www.") == strings.TrimPrefix(b, "www.")
}
