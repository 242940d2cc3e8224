package vt

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// ListOptions page a collection.
type ListOptions struct {
	Limit  int    // objects per page, at most 40 (VirusTotal's limit); 0 means 10
	Cursor string // where to start
	// DescriptorsOnly lists {type, id} descriptors (/relationships/{name}) instead of
	// full objects.
	DescriptorsOnly bool
}

// MaxPageLimit is the largest page VirusTotal serves.
const MaxPageLimit = 40

// DefaultPageLimit is the page size used when ListOptions.Limit is 0.
const DefaultPageLimit = 10

// pageQuery validates a page's limit and returns ?limit=&cursor=.
func pageQuery(opts ListOptions) (url.Values, error) {
	limit := opts.Limit
	if limit == 0 {
		limit = DefaultPageLimit
	}
	if limit < 1 || limit > MaxPageLimit {
		return nil, invalidArgf("page limit must be between 1 and %d, got %d", MaxPageLimit, opts.Limit)
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	return q, nil
}

// RelationshipPage fetches one page of a relationship. collection is "files", "urls",
// "domains" or "ip_addresses". Full objects come from /{collection}/{id}/{name},
// descriptors (opts.DescriptorsOnly) from /{collection}/{id}/relationships/{name}.
// The limit is checked (1 to MaxPageLimit, 0 meaning DefaultPageLimit) before anything
// is sent; the relationship name is lower-cased.
func (c *Client) RelationshipPage(ctx context.Context, collection, id, relationship string, opts ListOptions) (*Page, error) {
	if !validCollection(collection) {
		return nil, invalidArgf("collection %q: expected files, urls, domains or ip_addresses", collection)
	}
	eid, err := escapeID("id", id)
	if err != nil {
		return nil, err
	}
	rel, err := relationshipName(relationship)
	if err != nil {
		return nil, err
	}
	q, err := pageQuery(opts)
	if err != nil {
		return nil, err
	}
	r := &request{method: http.MethodGet, query: q}
	if opts.DescriptorsOnly {
		r.endpoint = "GET /" + collection + "/{id}/relationships/{relationship}"
		r.path = "/" + collection + "/" + eid + "/relationships/" + rel
	} else {
		r.endpoint = "GET /" + collection + "/{id}/{relationship}"
		r.path = "/" + collection + "/" + eid + "/" + rel
	}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, decodePageBody)
}

// Relationship iterates over every object of a relationship, page after page, following
// cursors; it stops at the first error, which it yields. It also stops after a page
// without objects, and with an error if the server hands back a cursor it already gave.
func (c *Client) Relationship(ctx context.Context, collection, id, relationship string, opts ListOptions) iter.Seq2[*Object, error] {
	return func(yield func(*Object, error) bool) {
		seen := map[string]bool{}
		if opts.Cursor != "" {
			seen[opts.Cursor] = true
		}
		for {
			p, err := c.RelationshipPage(ctx, collection, id, relationship, opts)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, o := range p.Objects {
				if !yield(o, nil) {
					return
				}
			}
			if p.Cursor == "" || len(p.Objects) == 0 {
				return
			}
			if seen[p.Cursor] {
				yield(nil, fmt.Errorf("virustotal: %s %s: the server repeated cursor %q", collection, relationship, p.Cursor))
				return
			}
			seen[p.Cursor] = true
			opts.Cursor = p.Cursor
		}
	}
}
