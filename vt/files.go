package vt

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
)

// GetFile returns the report of the file with that md5, sha1 or sha256.
func (c *Client) GetFile(ctx context.Context, id string, opts ...GetOption) (*File, error) {
	r, res, err := c.getReport(ctx, CollectionFiles, "file id", id, opts)
	if err != nil {
		return nil, err
	}
	extra := decodeOptions(opts)
	return decodeWith(c, r, res, func(b []byte) (*File, error) { return decodeFileBody(b, extra...) })
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

// GetFileDownloadURL returns a signed URL the file can be downloaded from for an hour
// without an API key (GET /files/{id}/download_url). It is premium: a public key gets
// an error for which IsForbidden is true. VirusTotal counts the call as a download.
func (c *Client) GetFileDownloadURL(ctx context.Context, id string) (string, error) {
	eid, err := escapeID("file id", id)
	if err != nil {
		return "", err
	}
	r := &request{method: http.MethodGet, endpoint: "GET /files/{id}/download_url", path: "/files/" + eid + "/download_url"}
	res, err := c.do(ctx, r)
	if err != nil {
		return "", err
	}
	return decodeWith(c, r, res, decodeDownloadURLBody)
}

// MaxDownloadSize bounds a file download: VirusTotal's largest files (650 MB).
const MaxDownloadSize = 650 << 20

// ErrContentMismatch is wrapped by the error of a download whose bytes do not have
// the hash it was asked by.
var ErrContentMismatch = errors.New("downloaded content does not match the file's hash")

// DownloadFile downloads a file (GET /files/{id}/download, which redirects to a
// signed URL) into w and returns the number of bytes written. It is premium: a public
// key gets an error for which IsForbidden is true. When id is an md5, sha1 or sha256,
// the bytes are checked against it as they arrive; a mismatch is an error wrapping
// ErrContentMismatch (w then holds bytes that are not the file). Only the context
// bounds the transfer (no per-attempt timeout); it is never retried once a byte
// reached w, and the API key is not sent to the redirect's host.
func (c *Client) DownloadFile(ctx context.Context, id string, w io.Writer) (int64, error) {
	if w == nil {
		return 0, invalidArgf("nil writer")
	}
	eid, err := escapeID("file id", id)
	if err != nil {
		return 0, err
	}
	var h hash.Hash
	switch hx := strings.ToLower(id); {
	case !isHexString(hx):
	case len(hx) == 32:
		h = md5.New()
	case len(hx) == 40:
		h = sha1.New()
	case len(hx) == 64:
		h = sha256.New()
	}
	dst := w
	if h != nil {
		dst = io.MultiWriter(w, h)
	}
	r := &request{method: http.MethodGet, endpoint: "GET /files/{id}/download", path: "/files/" + eid + "/download",
		accept: "application/octet-stream, */*", sink: dst, maxBody: MaxDownloadSize, noTimeout: true}
	if _, err := c.do(ctx, r); err != nil {
		return r.sunk, err
	}
	if h != nil {
		if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, id) {
			return r.sunk, fmt.Errorf("virustotal: GET /files/{id}/download: %w: %d bytes hash to %s", ErrContentMismatch, r.sunk, got)
		}
	}
	return r.sunk, nil
}

func isHexString(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return s != ""
}
