package vt

import (
	"context"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"time"
)

// DefaultServerURL is VirusTotal's server.
const DefaultServerURL = "https://www.virustotal.com"

// Priority orders requests competing for one budget; lower values go first.
type Priority int

// Priorities, most urgent first.
const (
	PriorityInteractive Priority = iota // a person or a synchronous command waits
	PriorityEnrichment                  // event enrichment (system reputation check)
	PriorityBackground                  // bulk runs, health checks, polling
)

// WithPriority returns a context whose requests carry priority p.
func WithPriority(ctx context.Context, p Priority) context.Context { panic("not implemented") }

// PriorityFrom returns the priority carried by ctx (PriorityInteractive if none).
func PriorityFrom(ctx context.Context) Priority { panic("not implemented") }

// Request describes a request about to be sent, for a Limiter.
type Request struct {
	Method string
	// Endpoint is the route pattern, for example "GET /files/{id}".
	Endpoint string
	Priority Priority
}

// Limiter owns the request budget. Wait blocks until one request may be sent (or ctx
// ends, or the budget is spent: then it returns an error that the call returns as is).
// Throttled is called when VirusTotal answered 429 so that the budget holds the
// connection; retryAfter is zero when the server gave no Retry-After.
type Limiter interface {
	Wait(ctx context.Context, r Request) error
	Throttled(ctx context.Context, r Request, retryAfter time.Duration)
}

// RetryPolicy bounds retries of 429, 503, 504 and network errors.
type RetryPolicy struct {
	MaxAttempts int           // total attempts, including the first; 1 disables retries
	BaseDelay   time.Duration // first backoff, doubled each attempt, with jitter
	MaxDelay    time.Duration // cap for one backoff (and for a Retry-After)
}

// Option configures a Client.
type Option func(*Client) error

// WithServerURL sets the server (default DefaultServerURL).
func WithServerURL(u string) Option { panic("not implemented") }

// WithAPIVersion sets the API version; only "v3" is accepted.
func WithAPIVersion(v string) Option { panic("not implemented") }

// WithHTTPClient sets the *http.Client.
func WithHTTPClient(c *http.Client) Option { panic("not implemented") }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { panic("not implemented") }

// WithProxy sends requests (HTTP and HTTPS) through the proxy at proxyURL.
func WithProxy(proxyURL string) Option { panic("not implemented") }

// WithTimeout sets the timeout of one HTTP attempt (default 60s; uploads excepted).
func WithTimeout(d time.Duration) Option { panic("not implemented") }

// WithLimiter sets the Limiter consulted before every request.
func WithLimiter(l Limiter) Option { panic("not implemented") }

// WithRetry sets the retry policy.
func WithRetry(p RetryPolicy) Option { panic("not implemented") }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { panic("not implemented") }

// Client talks to VirusTotal API v3.
type Client struct{}

// New returns a client for apiKey.
func New(apiKey string, opts ...Option) (*Client, error) { panic("not implemented") }

// ServerURL returns the server the client talks to.
func (c *Client) ServerURL() string { panic("not implemented") }

// GetOption modifies a report request.
type GetOption func(*getOptions)

type getOptions struct{ relationships []string }

// WithRelationships asks for relationships in the report (?relationships=a,b).
func WithRelationships(names ...string) GetOption {
	return func(o *getOptions) { o.relationships = append(o.relationships, names...) }
}

// GetFile returns the report of the file with that md5, sha1 or sha256.
func (c *Client) GetFile(ctx context.Context, id string, opts ...GetOption) (*File, error) {
	panic("not implemented")
}

// GetURL returns the report of a URL by its id (base64url or sha256 form).
func (c *Client) GetURL(ctx context.Context, id string, opts ...GetOption) (*URL, error) {
	panic("not implemented")
}

// GetDomain returns the report of a domain.
func (c *Client) GetDomain(ctx context.Context, domain string, opts ...GetOption) (*Domain, error) {
	panic("not implemented")
}

// GetIPAddress returns the report of an IP address.
func (c *Client) GetIPAddress(ctx context.Context, ip string, opts ...GetOption) (*IPAddress, error) {
	panic("not implemented")
}

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

// RelationshipPage fetches one page of a relationship. collection is "files", "urls",
// "domains" or "ip_addresses".
func (c *Client) RelationshipPage(ctx context.Context, collection, id, relationship string, opts ListOptions) (*Page, error) {
	panic("not implemented")
}

// Relationship iterates over every object of a relationship, page after page, following
// cursors; it stops at the first error, which it yields.
func (c *Client) Relationship(ctx context.Context, collection, id, relationship string, opts ListOptions) iter.Seq2[*Object, error] {
	panic("not implemented")
}

// GetBehaviourSummary returns a file's behaviour summary.
func (c *Client) GetBehaviourSummary(ctx context.Context, hash string) (*BehaviourSummary, error) {
	panic("not implemented")
}

// Size limits of uploads.
const (
	MaxDirectUpload int64 = 32 << 20  // POST /files takes files up to 32 MB
	MaxUpload       int64 = 650 << 20 // through /files/upload_url, up to 650 MB
)

// UploadFile uploads size bytes read from r as a file called name, streaming them
// (never holding the file in memory): directly up to MaxDirectUpload, through an upload
// URL above; over MaxUpload it fails before anything is sent. An upload is not retried
// once its body has started to leave.
func (c *Client) UploadFile(ctx context.Context, r io.Reader, name string, size int64) (*AnalysisDescriptor, error) {
	panic("not implemented")
}

// RescanFile asks VirusTotal to analyse a known file again.
func (c *Client) RescanFile(ctx context.Context, id string) (*AnalysisDescriptor, error) {
	panic("not implemented")
}

// ScanURL submits a URL for scanning.
func (c *Client) ScanURL(ctx context.Context, url string) (*AnalysisDescriptor, error) {
	panic("not implemented")
}

// GetAnalysis returns an analysis.
func (c *Client) GetAnalysis(ctx context.Context, id string) (*Analysis, error) {
	panic("not implemented")
}

// WaitOptions control WaitAnalysis.
type WaitOptions struct {
	Interval time.Duration // between polls (default 15s)
	Timeout  time.Duration // overall (default 10m); 0 uses the default
}

// WaitAnalysis polls an analysis until it is completed, tolerating the 404 that can
// follow an upload and transient errors; on timeout it returns the last analysis seen
// with an error wrapping context.DeadlineExceeded.
func (c *Client) WaitAnalysis(ctx context.Context, id string, opts WaitOptions) (*Analysis, error) {
	panic("not implemented")
}

// Search runs a basic search (GET /search?query=).
func (c *Client) Search(ctx context.Context, query string, opts ListOptions) (*Page, error) {
	panic("not implemented")
}

// IntelligenceSearch runs a VirusTotal Intelligence search (premium).
func (c *Client) IntelligenceSearch(ctx context.Context, query string, opts ListOptions) (*Page, error) {
	panic("not implemented")
}

// WidgetOptions are the optional colours of a widget.
type WidgetOptions struct {
	FG1, BG1, BG2, BD1 string
}

// GetWidgetURL returns the widget URL and detection ratio for an observable (a hash,
// URL, domain or IP as VirusTotal's query).
func (c *Client) GetWidgetURL(ctx context.Context, query string, opts WidgetOptions) (*WidgetURL, error) {
	panic("not implemented")
}

// GetWidgetHTML fetches the HTML of a widget from the URL GetWidgetURL returned; the
// URL must be on the client's server.
func (c *Client) GetWidgetHTML(ctx context.Context, widgetURL string) ([]byte, error) {
	panic("not implemented")
}

// GetUser returns a user (by id or API key) with quotas and privileges.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	panic("not implemented")
}

// GetMetadata returns /metadata (engines, relationships) undecoded.
func (c *Client) GetMetadata(ctx context.Context) (*Object, error) {
	panic("not implemented")
}
