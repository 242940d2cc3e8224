package vt

import (
	"context"
	"net/http"
)

// GetUser returns a user (by id or API key) with quotas and privileges
// (GET /users/{id}). Privileges are VirusTotal's {"granted": bool} objects reduced to
// their "granted" value. The user's "apikey" attribute is removed from everything the
// User keeps (Raw and Attributes included); when id is long enough to be a key it is
// also scrubbed from error messages.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	eid, err := escapeID("user id", id)
	if err != nil {
		return nil, err
	}
	r := &request{method: http.MethodGet, endpoint: "GET /users/{id}", path: "/users/" + eid}
	if len(id) >= 20 {
		r.extraSecrets = []string{id, eid}
	}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, decodeUserBody)
}

// GetMetadata returns /metadata (engines, relationships) undecoded: Attributes is the
// answer's "data" member and Raw the whole answer.
func (c *Client) GetMetadata(ctx context.Context) (*Object, error) {
	r := &request{method: http.MethodGet, endpoint: "GET /metadata", path: "/metadata"}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, func(b []byte) (*Object, error) {
		_, data, err := unwrap(b)
		if err != nil {
			return nil, err
		}
		return &Object{Attributes: data, Raw: b}, nil
	})
}
