package vt

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// GetAnalysis returns an analysis (GET /analyses/{id}). ItemID is filled from
// meta.file_info.sha256, meta.url_info.id, the "item" relationship or links.item.
func (c *Client) GetAnalysis(ctx context.Context, id string) (*Analysis, error) {
	eid, err := escapeID("analysis id", id)
	if err != nil {
		return nil, err
	}
	r := &request{method: http.MethodGet, endpoint: "GET /analyses/{id}", path: "/analyses/" + eid}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, r, res, decodeAnalysisBody)
}

// Defaults of WaitOptions.
const (
	DefaultWaitInterval = 15 * time.Second
	DefaultWaitTimeout  = 10 * time.Minute
)

// WaitOptions control WaitAnalysis.
type WaitOptions struct {
	Interval time.Duration // between polls (default 15s)
	Timeout  time.Duration // overall (default 10m); 0 uses the default
}

// WaitAnalysis polls an analysis until it is completed, tolerating the 404 that can
// follow an upload and transient errors; on timeout it returns the last analysis seen
// with an error wrapping context.DeadlineExceeded.
//
// Other errors (wrong credentials, quota...) end the wait at once and are returned
// with the last analysis seen. When ctx itself ends, its error is returned.
func (c *Client) WaitAnalysis(ctx context.Context, id string, opts WaitOptions) (*Analysis, error) {
	interval, timeout := opts.Interval, opts.Timeout
	if interval <= 0 {
		interval = DefaultWaitInterval
	}
	if timeout <= 0 {
		timeout = DefaultWaitTimeout
	}
	if _, err := escapeID("analysis id", id); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *Analysis
	for {
		a, err := c.GetAnalysis(wctx, id)
		switch {
		case err == nil:
			last = a
			if a.Status == AnalysisCompleted {
				return a, nil
			}
		case ctx.Err() != nil:
			return last, err
		case wctx.Err() != nil:
			// timed out during the request: reported below
		case IsNotFound(err) || IsTransient(err):
			c.logger.LogAttrs(ctx, slog.LevelDebug, "virustotal analysis not ready",
				slog.String("endpoint", "GET /analyses/{id}"), slog.String("error", err.Error()))
		default:
			return last, err
		}
		if wctx.Err() != nil || sleep(wctx, interval) != nil {
			if ctx.Err() != nil {
				return last, fmt.Errorf("virustotal: waiting for analysis %s: %w", id, ctx.Err())
			}
			status := "none seen"
			if last != nil {
				status = string(last.Status)
			}
			return last, fmt.Errorf("virustotal: analysis %s not completed after %s (last status: %s): %w",
				id, timeout, status, context.DeadlineExceeded)
		}
	}
}
