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

// checkRelationship validates a relationship before anything is sent: a known
// collection and a name of letters, digits and underscores (lower-cased).
func checkRelationship(rel Relationship) (Relationship, error) {
	if !rel.Collection.Valid() {
		return rel, invalidArgf("collection %q: expected files, urls, domains or ip_addresses", rel.Collection)
	}
	n, err := relationshipName(rel.Name)
	if err != nil {
		return rel, err
	}
	rel.Name = n
	return rel, nil
}

// RelationshipPage fetches one page of the objects related to the object id of
// rel.Collection through rel: full objects from /{collection}/{id}/{name},
// descriptors (opts.DescriptorsOnly) from /{collection}/{id}/relationships/{name}.
// Take rel from LookupRelationship or MustRelationship (or build one for a name this
// package does not list). The collection, the name (lower-cased) and the limit (1 to
// MaxPageLimit, 0 meaning DefaultPageLimit) are checked before anything is sent.
//
// A one-to-one relationship (rel.ToOne, for example a URL's network_location) gives a
// page of at most one object. The client does not refuse premium relationships on
// its own: a public key gets VirusTotal's 403, for which IsForbidden is true; callers
// that know their key is public check rel.Premium first.
func (c *Client) RelationshipPage(ctx context.Context, rel Relationship, id string, opts ListOptions) (*Page, error) {
	rel, err := checkRelationship(rel)
	if err != nil {
		return nil, err
	}
	eid, err := escapeID("id", id)
	if err != nil {
		return nil, err
	}
	q, err := pageQuery(opts)
	if err != nil {
		return nil, err
	}
	col := string(rel.Collection)
	r := &request{method: http.MethodGet, query: q}
	if opts.DescriptorsOnly {
		r.endpoint = "GET /" + col + "/{id}/relationships/{relationship}"
		r.path = "/" + col + "/" + eid + "/relationships/" + rel.Name
	} else {
		r.endpoint = "GET /" + col + "/{id}/{relationship}"
		r.path = "/" + col + "/" + eid + "/" + rel.Name
	}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, decodePageBody)
}

// Relationship iterates over every object related to id through rel, page after
// page, following cursors; it stops at the first error, which it yields. It also
// stops after a page without objects, and with an error if the server hands back a
// cursor it already gave.
func (c *Client) Relationship(ctx context.Context, rel Relationship, id string, opts ListOptions) iter.Seq2[*Object, error] {
	return func(yield func(*Object, error) bool) {
		seen := map[string]bool{}
		if opts.Cursor != "" {
			seen[opts.Cursor] = true
		}
		for {
			p, err := c.RelationshipPage(ctx, rel, id, opts)
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
				yield(nil, fmt.Errorf("virustotal: %s: the server repeated cursor %q", rel, p.Cursor))
				return
			}
			seen[p.Cursor] = true
			opts.Cursor = p.Cursor
		}
	}
}
