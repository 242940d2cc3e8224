package vt

import (
	"context"
	"net/http"
)

// GetFile returns the report of the file with that md5, sha1 or sha256.
func (c *Client) GetFile(ctx context.Context, id string, opts ...GetOption) (*File, error) {
	r, res, err := c.getReport(ctx, CollectionFiles, "file id", id, opts)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, decodeFileBody)
}

// GetBehaviourSummary returns a file's behaviour summary.
func (c *Client) GetBehaviourSummary(ctx context.Context, hash string) (*BehaviourSummary, error) {
	eid, err := escapeID("file id", hash)
	if err != nil {
		return nil, err
	}
	r := &request{method: http.MethodGet, endpoint: "GET /files/{id}/behaviour_summary", path: "/files/" + eid + "/behaviour_summary"}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, decodeBehaviourBody)
}

// RescanFile asks VirusTotal to analyse a known file again (POST /files/{id}/analyse).
func (c *Client) RescanFile(ctx context.Context, id string) (*AnalysisDescriptor, error) {
	eid, err := escapeID("file id", id)
	if err != nil {
		return nil, err
	}
	r := &request{method: http.MethodPost, endpoint: "POST /files/{id}/analyse", path: "/files/" + eid + "/analyse"}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, decodeDescriptorBody)
}
