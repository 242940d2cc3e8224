package vt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// GetUser returns a user (by id or API key) with quotas and privileges
// (GET /users/{id}); CurrentUser is the key's own user, with the key kept out of the
// answer. Privileges are VirusTotal's {"granted": bool} objects reduced to
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
		return Quota{Allowed: q.Group.Allowed, Used: q.Group.Used}.Left()
	}
	return q.User.Left()
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
// id or the API key, scrubbed from errors like GetUser's; CurrentOverallQuotas asks
// for the key's own user). VirusTotal does not count
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

// CurrentUser returns the user the client's API key belongs to (GET /users/{key}),
// with its quotas and privileges, as GetUser does. The key appears nowhere in what it
// returns: besides the "apikey" attribute, the user's id when VirusTotal names the
// user by the key and its self link (which may be written with the key) are left out
// of the User (ID, Links.Self) and of its Raw, and any other mention of the key in
// Raw reads "[REDACTED]". Raw is then VirusTotal's answer re-encoded without them.
func (c *Client) CurrentUser(ctx context.Context) (*User, error) {
	u, err := c.GetUser(ctx, c.apiKey)
	if err != nil {
		return nil, err
	}
	if u.ID == c.apiKey {
		u.ID = ""
	}
	u.Links.Self = ""
	raw, err := withoutKey(u.Raw, c.apiKey, func(data map[string]any) {
		if id, ok := data["id"].(string); ok && id == c.apiKey {
			delete(data, "id")
		}
		if links, ok := data["links"].(map[string]any); ok {
			delete(links, "self")
		}
	})
	if err != nil {
		return nil, &Error{StatusCode: http.StatusOK, Code: CodeInvalidResponse, Method: http.MethodGet,
			Path: "/users/{id}", Message: err.Error()}
	}
	u.Raw = raw
	return u, nil
}

// CurrentOverallQuotas returns the overall quotas of the client's own user
// (GET /users/{key}/overall_quotas), as GetOverallQuotas does, unmetered. Any mention
// of the key in Raw reads "[REDACTED]".
func (c *Client) CurrentOverallQuotas(ctx context.Context) (*OverallQuotas, error) {
	q, err := c.GetOverallQuotas(ctx, c.apiKey)
	if err != nil {
		return nil, err
	}
	raw, err := withoutKey(q.Raw, c.apiKey, nil)
	if err != nil {
		return nil, &Error{StatusCode: http.StatusOK, Code: CodeInvalidResponse, Method: http.MethodGet,
			Path: "/users/{id}/overall_quotas", Message: err.Error()}
	}
	q.Raw = raw
	return q, nil
}

// withoutKey returns a JSON answer with the key out of it: edit, when set, changes
// the answer's "data" object first, and every string that still holds the key has it
// replaced by "[REDACTED]". The answer is re-encoded only when something changed.
func withoutKey(body []byte, key string, edit func(data map[string]any)) ([]byte, error) {
	if edit == nil && !bytes.Contains(bytes.ToLower(body), bytes.ToLower([]byte(key))) {
		return body, nil
	}
	doc, err := decodeAny(body)
	if err != nil {
		return nil, err
	}
	if m, ok := doc.(map[string]any); ok && edit != nil {
		if data, ok := m["data"].(map[string]any); ok {
			edit(data)
		}
	}
	return encodeAny(redactStrings(doc, key))
}

// redactStrings replaces secret in every string of v, member names included.
func redactStrings(v any, secret string) any {
	switch x := v.(type) {
	case string:
		return Redact(x, secret)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, child := range x {
			out[Redact(k, secret)] = redactStrings(child, secret)
		}
		return out
	case []any:
		for i, child := range x {
			x[i] = redactStrings(child, secret)
		}
	}
	return v
}
