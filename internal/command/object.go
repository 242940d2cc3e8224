package command

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// Report is VirusTotal's report of a file, URL, domain or IP address, decoded (the
// attributes the commands read; the engines' verdicts are in the raw answer).
type Report struct {
	// Kind is the object's kind, ID its VirusTotal id.
	Kind ioc.Kind
	ID   string
	// Common are the attributes of every kind; File, URL, Domain or IP those of the
	// object's kind.
	Common vt.CommonAttributes
	File   vt.FileAttributes
	URL    vt.URLAttributes
	Domain vt.DomainAttributes
	IP     vt.IPAttributes
}

// SubmissionDates are the first and last submission of a file or a URL (zero for the
// other kinds, or when VirusTotal did not say).
func (r *Report) SubmissionDates() (first, last time.Time) {
	switch r.Kind {
	case ioc.KindFile:
		return r.File.FirstSubmissionDate.Time(), r.File.LastSubmissionDate.Time()
	case ioc.KindURL:
		return r.URL.FirstSubmissionDate.Time(), r.URL.LastSubmissionDate.Time()
	}
	return time.Time{}, time.Time{}
}

// ObjectFields are the fields of the entries of the commands about objects and their
// analyses: check-*-reputation, lookup, get-*-reports, detonate-files, scan-url,
// rescan-file and rescan-url.
type ObjectFields struct {
	// ReportSummary is there when a report gave the verdict.
	*ReportSummary
	// A file's hashes; a URL.
	MD5    string `json:"md5,omitempty"`
	SHA1   string `json:"sha1,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	URL    string `json:"url,omitempty"`
	// Check is the reputation check lookup asked (check-ip-reputation...).
	Check string `json:"check,omitempty"`
	// ReportDetails are the report's attributes of get-*-reports.
	*ReportDetails
	// Submitted: get-url-reports submitted a URL VirusTotal had never seen.
	Submitted bool `json:"submitted,omitempty"`
	// AnalysisID is the analysis asked for; AnalysisStatus how far it went.
	AnalysisID     string `json:"analysis_id,omitempty"`
	AnalysisStatus string `json:"analysis_status,omitempty"`
	// Stats are the counts of a completed analysis that gave the verdict (no report).
	Stats *vt.AnalysisStats `json:"stats,omitempty"`
	// detonate-files: whether the file was uploaded, already known, analysed again,
	// and its name.
	Uploaded  *bool  `json:"uploaded,omitempty"`
	Known     bool   `json:"known,omitempty"`
	Rescanned *bool  `json:"rescanned,omitempty"`
	Name      string `json:"name,omitempty"`

	// report is the decoded report the verdict came from.
	report *Report
}

func (*ObjectFields) fields() {}

// Report returns the decoded report the entry's verdict came from: kept by the run
// (a result decoded from JSON has it when its raw answer was given).
func (f *ObjectFields) Report() (*Report, bool) { return f.report, f.report != nil }

// ReportSummary is what the verdict of a report rests on.
type ReportSummary struct {
	// LastAnalysisStats are the engines' counts (null when the object was never
	// analysed).
	LastAnalysisStats *vt.AnalysisStats `json:"last_analysis_stats"`
	// Reputation is the community score.
	Reputation       int       `json:"reputation"`
	LastAnalysisDate time.Time `json:"last_analysis_date,omitzero"`
	// Cached: the answer came from the cache.
	Cached bool `json:"cached,omitempty"`
}

// ReportDetails are the attributes of a report get-*-reports shows, by kind.
type ReportDetails struct {
	Tags       []string `json:"tags,omitempty"`
	TotalVotes vt.Votes `json:"total_votes"`
	// A file's.
	Size                *int64    `json:"size,omitempty"`
	TypeDescription     string    `json:"type_description,omitempty"`
	MeaningfulName      string    `json:"meaningful_name,omitempty"`
	Names               []string  `json:"names,omitempty"`
	FirstSubmissionDate time.Time `json:"first_submission_date,omitzero"`
	LastSubmissionDate  time.Time `json:"last_submission_date,omitzero"`
	TimesSubmitted      int       `json:"times_submitted,omitempty"`
	// A URL's.
	LastFinalURL         string   `json:"last_final_url,omitempty"`
	Title                string   `json:"title,omitempty"`
	LastHTTPResponseCode int      `json:"last_http_response_code,omitempty"`
	ThreatNames          []string `json:"threat_names,omitempty"`
	// A URL's or a domain's.
	Categories map[string]string `json:"categories,omitempty"`
	// A domain's.
	Registrar    string    `json:"registrar,omitempty"`
	CreationDate time.Time `json:"creation_date,omitzero"`
	// An IP address's.
	ASN     int    `json:"asn,omitempty"`
	ASOwner string `json:"as_owner,omitempty"`
	Country string `json:"country,omitempty"`
	Network string `json:"network,omitempty"`
}

// objectFields returns the entry's ObjectFields, made when it has none.
func objectFields(e *ContextEntry) *ObjectFields {
	f, ok := e.Fields.(*ObjectFields)
	if !ok {
		f = &ObjectFields{}
		e.Fields = f
	}
	return f
}

// object is a report as the commands use it, live or from the cache.
type object struct {
	Report
	typ       string
	raw       json.RawMessage // the whole answer, {"data": {...}}
	attrs     json.RawMessage // its attributes, a part of raw ("{}" when there are none)
	fromCache bool
}

// objectKey is the de-duplication key of an observable: its kind and canonical id (a
// URL by the sha256 of its canonical form, so that a URL and its ids share a key).
func objectKey(o ioc.Observable) string {
	if o.Kind == ioc.KindURL && o.Value != "" {
		return "url:" + ioc.URLSHA256ID(o.Value)
	}
	return string(o.Kind) + ":" + o.ID
}

// hashTier fetches files given by sha256 first, then sha1, then md5, so that hashes of
// a file already fetched are answered from that fetch.
func hashTier(o ioc.Observable) int {
	switch o.Hash {
	case ioc.SHA1:
		return 1
	case ioc.MD5:
		return 2
	}
	return 0
}

// objectTask is the task of an input naming an object of the command's kind.
func objectTask(r *run, input string) (task, *Failure) {
	o, f := r.parseAs(r.cmd.Kind, input)
	if f != nil {
		return task{}, f
	}
	return task{key: objectKey(o), tier: hashTier(o), obs: o}, nil
}

func notFoundErr(kind ioc.Kind) error {
	return &vt.Error{StatusCode: 404, Code: vt.CodeNotFound, Message: fmt.Sprintf("%s not found (cached answer)", kindNoun(kind))}
}

// fetchObject returns the report of o from the cache (unless fresh or Request.Fresh)
// or from VirusTotal, storing VirusTotal's answer in the cache.
func (r *run) fetchObject(ctx context.Context, o ioc.Observable, fresh bool) (*object, error) {
	if !fresh && !r.p.run.Fresh {
		e, ok, err := r.cache.Get(ctx, o.Kind, o.ID, r.p.run.MaxAge)
		if err != nil {
			r.log.WarnContext(ctx, "cache read failed; asking VirusTotal", "kind", o.Kind, "error", err)
		} else if ok {
			if e.NotFound {
				return nil, notFoundErr(o.Kind)
			}
			// A cache that keeps answers decoded (Memory, cache.Recent's tier) gives
			// the object back; another's body is decoded here.
			obj, isObj := e.Decoded.(*object)
			if !isObj {
				obj, err = decodeObject(o.Kind, e.Body)
			}
			if err == nil {
				cp := *obj
				cp.fromCache = true
				return &cp, nil
			}
			r.log.WarnContext(ctx, "cached answer unreadable; asking VirusTotal", "kind", o.Kind, "error", err)
		}
	}
	// The commands read the stats, never each engine's verdict (which stays in raw).
	var (
		obj *object
		err error
	)
	switch o.Kind {
	case ioc.KindFile:
		var f *vt.File
		if f, err = r.d.Client.GetFile(ctx, o.ID, vt.WithoutEngineResults()); err == nil {
			obj = fileObject(f)
		}
	case ioc.KindURL:
		var u *vt.URL
		if u, err = r.d.Client.GetURL(ctx, o.ID, vt.WithoutEngineResults()); err == nil {
			obj = urlObject(u)
		}
	case ioc.KindDomain:
		var d *vt.Domain
		if d, err = r.d.Client.GetDomain(ctx, o.ID, vt.WithoutEngineResults()); err == nil {
			obj = domainObject(d)
		}
	case ioc.KindIP:
		var ip *vt.IPAddress
		if ip, err = r.d.Client.GetIPAddress(ctx, o.ID, vt.WithoutEngineResults()); err == nil {
			obj = ipObject(ip)
		}
	default:
		return nil, fmt.Errorf("unknown kind %q", o.Kind)
	}
	if err != nil {
		if vt.IsNotFound(err) {
			r.cachePut(ctx, NotFoundEntry(o, r.now()))
		}
		return nil, err
	}
	if obj.ID == "" {
		obj.ID = o.ID
	}
	r.cachePut(ctx, cache.Entry{Kind: o.Kind, ID: obj.ID, Aliases: obj.cacheAliases(o), Body: obj.raw, FetchedAt: r.now(), Decoded: obj})
	return obj, nil
}

// DecodeAnswer decodes a cached answer of kind as the commands read it, for a cache
// that keeps answers decoded (cache.Recent's tier).
func DecodeAnswer(kind ioc.Kind, body []byte) (any, error) { return decodeObject(kind, body) }

// CacheEntry returns the cache entry of body, VirusTotal's report of the object of
// kind asked for as o (its id, and for a URL its canonical form when known), fetched
// at fetchedAt: the object's id and every alias it is known by, as a command stores
// its answers. The error says the body is not a report of that kind.
func CacheEntry(o ioc.Observable, body []byte, fetchedAt time.Time) (cache.Entry, error) {
	obj, err := decodeObject(o.Kind, body)
	if err != nil {
		return cache.Entry{}, err
	}
	if obj.ID == "" {
		obj.ID = o.ID
	}
	if o.Kind == ioc.KindURL && o.Value == "" {
		o.Value = obj.URL.URL
	}
	return cache.Entry{Kind: o.Kind, ID: obj.ID, Aliases: obj.cacheAliases(o), Body: body, FetchedAt: fetchedAt}, nil
}

// NotFoundEntry returns the cache entry of VirusTotal's not-found answer for o, under
// its id and, for a URL, every id of it.
func NotFoundEntry(o ioc.Observable, fetchedAt time.Time) cache.Entry {
	e := cache.Entry{Kind: o.Kind, ID: o.ID, NotFound: true, FetchedAt: fetchedAt}
	if o.Kind == ioc.KindURL && o.Value != "" {
		e.Aliases = otherIDs(o.ID, ioc.URLID(o.Value), ioc.URLSHA256ID(o.Value))
	}
	return e
}

// cachePut stores e in the cache (a failure is logged: the answer is still used).
func (r *run) cachePut(ctx context.Context, e cache.Entry) {
	if e.ID == "" {
		return
	}
	if err := r.cache.Put(ctx, e); err != nil {
		r.log.WarnContext(ctx, "cache write failed", "kind", e.Kind, "error", err)
	}
}

func otherIDs(id string, more ...string) []string {
	var out []string
	for _, m := range more {
		if m != "" && m != id && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// cacheAliases are the ids other than obj.ID the object is known by.
func (obj *object) cacheAliases(o ioc.Observable) []string {
	switch obj.Kind {
	case ioc.KindFile:
		return otherIDs(obj.ID, obj.File.MD5, obj.File.SHA1, obj.File.SHA256, o.ID)
	case ioc.KindURL:
		ids := []string{o.ID}
		if o.Value != "" {
			ids = append(ids, ioc.URLID(o.Value), ioc.URLSHA256ID(o.Value))
		}
		return otherIDs(obj.ID, ids...)
	}
	return otherIDs(obj.ID, o.ID)
}

// runAliases are the de-duplication keys the object answers besides the task's key.
func (obj *object) runAliases() []string {
	switch obj.Kind {
	case ioc.KindFile:
		var out []string
		for _, h := range []string{obj.File.MD5, obj.File.SHA1, obj.File.SHA256, obj.ID} {
			if h != "" {
				out = append(out, "file:"+h)
			}
		}
		return out
	case ioc.KindURL:
		out := []string{"url:" + obj.ID}
		if obj.URL.URL != "" {
			out = append(out, "url:"+ioc.URLSHA256ID(obj.URL.URL))
		}
		return out
	}
	return []string{string(obj.Kind) + ":" + obj.ID}
}

func fileObject(f *vt.File) *object {
	obj := &object{Report: Report{Kind: ioc.KindFile, ID: f.ID, File: f.Attributes, Common: f.Attributes.CommonAttributes},
		typ: f.Type, raw: f.Raw, attrs: attrsOf(f.Object.Attributes)}
	if obj.ID == "" {
		obj.ID = f.Attributes.SHA256
	}
	return obj
}

func urlObject(u *vt.URL) *object {
	return &object{Report: Report{Kind: ioc.KindURL, ID: u.ID, URL: u.Attributes, Common: u.Attributes.CommonAttributes},
		typ: u.Type, raw: u.Raw, attrs: attrsOf(u.Object.Attributes)}
}

func domainObject(d *vt.Domain) *object {
	return &object{Report: Report{Kind: ioc.KindDomain, ID: d.ID, Domain: d.Attributes, Common: d.Attributes.CommonAttributes},
		typ: d.Type, raw: d.Raw, attrs: attrsOf(d.Object.Attributes)}
}

func ipObject(ip *vt.IPAddress) *object {
	return &object{Report: Report{Kind: ioc.KindIP, ID: ip.ID, IP: ip.Attributes, Common: ip.Attributes.CommonAttributes},
		typ: ip.Type, raw: ip.Raw, attrs: attrsOf(ip.Object.Attributes)}
}

// attrsOf is a report's attributes, "{}" when it has none.
func attrsOf(a json.RawMessage) json.RawMessage {
	if len(a) == 0 {
		return json.RawMessage("{}")
	}
	return a
}

// decodeObject reads a report ({"data": {...}}) from the cache, as the client reads
// VirusTotal's answer (without the engine results, which the commands do not read).
func decodeObject(kind ioc.Kind, raw []byte) (*object, error) {
	var (
		obj *object
		err error
	)
	switch kind {
	case ioc.KindFile:
		var f *vt.File
		if f, err = vt.ParseFile(raw, vt.WithoutEngineResults()); err == nil {
			obj = fileObject(f)
		}
	case ioc.KindURL:
		var u *vt.URL
		if u, err = vt.ParseURL(raw, vt.WithoutEngineResults()); err == nil {
			obj = urlObject(u)
		}
	case ioc.KindDomain:
		var d *vt.Domain
		if d, err = vt.ParseDomain(raw, vt.WithoutEngineResults()); err == nil {
			obj = domainObject(d)
		}
	case ioc.KindIP:
		var ip *vt.IPAddress
		if ip, err = vt.ParseIPAddress(raw, vt.WithoutEngineResults()); err == nil {
			obj = ipObject(ip)
		}
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("VirusTotal's %s report: %w", kind, err)
	}
	return obj, nil
}

// verdict applies the policy to the object.
func (r *run) verdict(obj *object) risk.Verdict {
	return r.d.Policy.Verdict(obj.Kind, r.evidence(obj))
}

// baseEntry is the context entry of an object with its risk level.
func (r *run) baseEntry(obj *object) ContextEntry {
	v := r.verdict(obj)
	s := &ReportSummary{LastAnalysisStats: obj.Common.LastAnalysisStats, Reputation: obj.Common.Reputation,
		LastAnalysisDate: obj.Common.LastAnalysisDate.Time(), Cached: obj.fromCache}
	return ContextEntry{Type: string(obj.Kind), ID: obj.ID, RiskLevel: v.Level.String(), RiskLevelCode: v.Level.Code(), RiskReason: v.Reason,
		Fields: &ObjectFields{ReportSummary: s, report: &obj.Report}}
}

// riskLevels is the RiskLevels key field: one level per input, N/A for failures.
func riskLevels(rs []Result) []string {
	out := make([]string, len(rs))
	for i, res := range rs {
		out[i] = res.Context.RiskLevel
		if out[i] == "" {
			out[i] = risk.NA.String()
		}
	}
	return out
}

// ids is the IDs key field: the object id per input, "" for failures.
func ids(rs []Result) []string {
	out := make([]string, len(rs))
	for i, res := range rs {
		if res.Err == nil {
			out[i] = res.Context.ID
		}
	}
	return out
}

// perInput is a key field: for each input, what get finds in its entry's fields when
// they are an F and the input succeeded, else nil (null in JSON), in input order.
func perInput[F Fields, V any](rs []Result, get func(F) (V, bool)) []*V {
	out := make([]*V, len(rs))
	for i, res := range rs {
		if f, ok := res.Context.Fields.(F); ok && res.Err == nil {
			if v, ok := get(f); ok {
				out[i] = &v
			}
		}
	}
	return out
}

// keptFiles are the fields of a command that writes files: keptFile is the id of the
// file Deps.Keep kept, or "".
type keptFiles interface {
	Fields
	keptFile() string
}

// fileIDs is the FileIDs key field of the commands that write files: the id of each
// input's file kept by Deps.Keep, nil where none was.
func fileIDs(rs []Result) []*string {
	return perInput(rs, func(f keptFiles) (string, bool) { return f.keptFile(), f.keptFile() != "" })
}

// analysisIDs is the AnalysisIDs key field of the commands that ask for analyses.
func analysisIDs(rs []Result) []*string {
	return perInput(rs, func(f *ObjectFields) (string, bool) { return f.AnalysisID, f.AnalysisID != "" })
}
