package vt

import (
	"context"
	"encoding/json"
	"fmt"
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

// OverallQuota is one quota of GET /users/{id}/overall_quotas: what the user may
// spend and has spent, and, when the user belongs to a group, the group's figures it
// inherits.
type OverallQuota struct {
	User  Quota       `json:"user"`
	Group *GroupQuota `json:"group,omitempty"`
}

// GroupQuota is a group's quota a user inherits.
type GroupQuota struct {
	Allowed       int64  `json:"allowed"`
	Used          int64  `json:"used"`
	InheritedFrom string `json:"inherited_from,omitempty"`
}

// Left is what remains of the quota: the user's allowance when it has one, else the
// group's (group members often have 0 of their own and spend the group's).
func (q OverallQuota) Left() int64 {
	if q.User.Allowed == 0 && q.Group != nil {
		return max(0, q.Group.Allowed-q.Group.Used)
	}
	return max(0, q.User.Allowed-q.User.Used)
}

// OverallQuotas is the answer of GET /users/{id}/overall_quotas, by quota name
// ("api_requests_daily", "api_requests_hourly", "api_requests_monthly",
// "intelligence_searches_monthly"...).
type OverallQuotas struct {
	Quotas map[string]OverallQuota
	// Raw is the whole answer.
	Raw json.RawMessage
}

// GetOverallQuotas returns a user's quotas and what was used of them, with the
// group's figures the user inherits (GET /users/{id}/overall_quotas; id is the user
// id or the API key, scrubbed from errors like GetUser's). VirusTotal does not count
// this call against the quota, so the Limiter is not asked for it.
func (c *Client) GetOverallQuotas(ctx context.Context, id string) (*OverallQuotas, error) {
	eid, err := escapeID("user id", id)
	if err != nil {
		return nil, err
	}
	r := &request{method: http.MethodGet, endpoint: "GET /users/{id}/overall_quotas", path: "/users/" + eid + "/overall_quotas",
		unmetered: true}
	if len(id) >= 20 {
		r.extraSecrets = []string{id, eid}
	}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, func(b []byte) (*OverallQuotas, error) {
		_, data, err := unwrap(b)
		if err != nil {
			return nil, err
		}
		q := &OverallQuotas{Raw: b}
		if err := json.Unmarshal(data, &q.Quotas); err != nil {
			return nil, fmt.Errorf(`"data" is not a map of quotas: %w`, err)
		}
		return q, nil
	})
}
