package vt

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
)

// GetOption modifies a report request.
type GetOption func(*getOptions)

type getOptions struct {
	relationships []string
	skipResults   bool
}

// WithRelationships asks for relationships in the report (?relationships=a,b).
func WithRelationships(names ...string) GetOption {
	return func(o *getOptions) { o.relationships = append(o.relationships, names...) }
}

// WithoutEngineResults leaves the report's LastAnalysisResults undecoded (nil; they
// stay in Raw and Attributes), for a caller that reads the stats and not each
// engine's verdict: decoding the 70-odd engine results is most of a report's cost.
func WithoutEngineResults() GetOption {
	return func(o *getOptions) { o.skipResults = true }
}

// decodeOptions are the decoding options a report's GetOptions ask for.
func decodeOptions(opts []GetOption) []jsonv2.Options {
	var o getOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.skipResults {
		return []jsonv2.Options{skipEngineResults}
	}
	return nil
}

// escapeID checks that id is usable in a path and escapes it.
func escapeID(what, id string) (string, error) {
	if id == "" {
		return "", invalidArgf("empty %s", what)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return "", invalidArgf("%s contains control characters", what)
		}
	}
	if id == "." || id == ".." {
		return "", invalidArgf("%s %q is not an id", what, id)
	}
	return url.PathEscape(id), nil
}

// relationshipName lower-cases a relationship name and checks it is one word of
// letters, digits and underscores, as VirusTotal's names are.
func relationshipName(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		return "", invalidArgf("empty relationship name")
	}
	for _, r := range n {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return "", invalidArgf("relationship name %q: only letters, digits and underscores are allowed", name)
		}
	}
	return n, nil
}

// getReport fetches GET /{collection}/{id}[?relationships=].
func (c *Client) getReport(ctx context.Context, collection Collection, what, id string, opts []GetOption) (*request, *response, error) {
	eid, err := escapeID(what, id)
	if err != nil {
		return nil, nil, err
	}
	var o getOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	var q url.Values
	if len(o.relationships) > 0 {
		names := make([]string, 0, len(o.relationships))
		for _, n := range o.relationships {
			rn, err := relationshipName(n)
			if err != nil {
				return nil, nil, err
			}
			names = append(names, rn)
		}
		q = url.Values{"relationships": {strings.Join(names, ",")}}
	}
	r := &request{method: http.MethodGet, endpoint: "GET /" + string(collection) + "/{id}", path: "/" + string(collection) + "/" + eid, query: q}
	res, err := c.do(ctx, r)
	return r, res, err
}

// decodeWith decodes a successful answer, turning a decoding failure into an *Error
// with Code CodeInvalidResponse.
func decodeWith[T any](c *Client, r *request, res *response, f func([]byte) (T, error)) (T, error) {
	v, err := f(res.body)
	if err != nil {
		var zero T
		return zero, c.malformed(r, res, err)
	}
	return v, nil
}
