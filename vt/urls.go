package vt

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// GetURL returns the report of a URL by its id (base64url or sha256 form).
func (c *Client) GetURL(ctx context.Context, id string, opts ...GetOption) (*URL, error) {
	r, res, err := c.getReport(ctx, CollectionURLs, "URL id", id, opts)
	if err != nil {
		return nil, err
	}
	extra := decodeOptions(opts)
	return decodeWith(c, r, res, func(b []byte) (*URL, error) { return decodeURLBody(b, extra...) })
}

// ScanURL submits a URL for scanning (POST /urls, form field "url").
func (c *Client) ScanURL(ctx context.Context, u string) (*AnalysisDescriptor, error) {
	if strings.TrimSpace(u) == "" {
		return nil, invalidArgf("empty URL")
	}
	r := &request{method: http.MethodPost, endpoint: "POST /urls", path: "/urls", form: url.Values{"url": {u}}}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, decodeDescriptorBody)
}

// RescanURL asks VirusTotal to analyse a URL it knows again (POST /urls/{id}/analyse).
// id is the URL's id in either form: its base64url encoding without padding
// (ioc.URLID of the canonical URL) or the SHA-256 of the URL. It returns the new
// analysis' descriptor, for GetAnalysis or WaitAnalysis. Like every POST, it is
// retried only on answers VirusTotal sends before acting (429, 503).
func (c *Client) RescanURL(ctx context.Context, id string) (*AnalysisDescriptor, error) {
	eid, err := escapeID("URL id", id)
	if err != nil {
		return nil, err
	}
	r := &request{method: http.MethodPost, endpoint: "POST /urls/{id}/analyse", path: "/urls/" + eid + "/analyse"}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, decodeDescriptorBody)
}
