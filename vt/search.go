package vt

import (
	"context"
	"net/http"
	"strings"
)

// Search runs a basic search (GET /search?query=&limit=&cursor=). DescriptorsOnly is
// not supported by this endpoint and is refused.
func (c *Client) Search(ctx context.Context, query string, opts ListOptions) (*Page, error) {
	if opts.DescriptorsOnly {
		return nil, invalidArgf("DescriptorsOnly is not supported by /search (only by IntelligenceSearch)")
	}
	return c.search(ctx, "GET /search", "/search", query, opts)
}

// IntelligenceSearch runs a VirusTotal Intelligence search (premium;
// GET /intelligence/search). DescriptorsOnly sends descriptors_only=true. A public key
// gets an error for which IsForbidden is true.
func (c *Client) IntelligenceSearch(ctx context.Context, query string, opts ListOptions) (*Page, error) {
	return c.search(ctx, "GET /intelligence/search", "/intelligence/search", query, opts)
}

func (c *Client) search(ctx context.Context, endpoint, path, query string, opts ListOptions) (*Page, error) {
	if strings.TrimSpace(query) == "" {
		return nil, invalidArgf("empty search query")
	}
	q, err := pageQuery(opts)
	if err != nil {
		return nil, err
	}
	q.Set("query", query)
	if opts.DescriptorsOnly {
		q.Set("descriptors_only", "true")
	}
	r := &request{method: http.MethodGet, endpoint: endpoint, path: path, query: q}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, decodePageBody)
}
