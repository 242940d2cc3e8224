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

// object is a file, URL, domain or IP address report, live or from the cache.
type object struct {
	kind      ioc.Kind
	id        string
	typ       string
	raw       json.RawMessage // the whole answer, {"data": {...}}
	attrs     json.RawMessage // its attributes, a part of raw ("{}" when there are none)
	common    vt.CommonAttributes
	file      vt.FileAttributes
	url       vt.URLAttributes
	domain    vt.DomainAttributes
	ip        vt.IPAttributes
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
	recent, _ := r.cache.(cache.Validator)
	if r.d.Recent == nil {
		recent = nil
	}
	server := r.d.Client.ServerURL()
	maxAge := r.p.run.MaxAge
	if !fresh && !r.p.run.Fresh {
		if recent != nil {
			if obj, ok := r.d.Recent.get(ctx, recent, server, o.Kind, o.ID, maxAge, r.now()); ok {
				cp := *obj
				cp.fromCache = true
				return &cp, nil
			}
		}
		e, ok, err := r.cache.Get(ctx, o.Kind, o.ID, maxAge)
		if err != nil {
			r.log.WarnContext(ctx, "cache read failed; asking VirusTotal", "kind", o.Kind, "error", err)
		} else if ok {
			if e.NotFound {
				return nil, notFoundErr(o.Kind)
			}
			obj, err := decodeObject(o.Kind, e.Body)
			if err == nil {
				if recent != nil {
					r.d.Recent.add(server, obj, e.FetchedAt, append([]string{e.ID}, e.Aliases...))
				}
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
	if obj.id == "" {
		obj.id = o.ID
	}
	e := cache.Entry{Kind: o.Kind, ID: obj.id, Aliases: obj.cacheAliases(o), Body: obj.raw, FetchedAt: r.now()}
	if r.cachePut(ctx, e) && recent != nil {
		r.d.Recent.add(server, obj, e.FetchedAt, append([]string{e.ID}, e.Aliases...))
	}
	return obj, nil
}

// CacheEntry returns the cache entry of body, VirusTotal's report of the object of
// kind asked for as o (its id, and for a URL its canonical form when known), fetched
// at fetchedAt: the object's id and every alias it is known by, as a command stores
// its answers. The error says the body is not a report of that kind.
func CacheEntry(o ioc.Observable, body []byte, fetchedAt time.Time) (cache.Entry, error) {
	obj, err := decodeObject(o.Kind, body)
	if err != nil {
		return cache.Entry{}, err
	}
	if obj.id == "" {
		obj.id = o.ID
	}
	if o.Kind == ioc.KindURL && o.Value == "" {
		o.Value = obj.url.URL
	}
	return cache.Entry{Kind: o.Kind, ID: obj.id, Aliases: obj.cacheAliases(o), Body: body, FetchedAt: fetchedAt}, nil
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

// cachePut stores e in the cache; false when it could not.
func (r *run) cachePut(ctx context.Context, e cache.Entry) bool {
	if e.ID == "" {
		return false
	}
	if err := r.cache.Put(ctx, e); err != nil {
		r.log.WarnContext(ctx, "cache write failed", "kind", e.Kind, "error", err)
		return false
	}
	return true
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

// cacheAliases are the ids other than obj.id the object is known by.
func (obj *object) cacheAliases(o ioc.Observable) []string {
	switch obj.kind {
	case ioc.KindFile:
		return otherIDs(obj.id, obj.file.MD5, obj.file.SHA1, obj.file.SHA256, o.ID)
	case ioc.KindURL:
		ids := []string{o.ID}
		if o.Value != "" {
			ids = append(ids, ioc.URLID(o.Value), ioc.URLSHA256ID(o.Value))
		}
		return otherIDs(obj.id, ids...)
	}
	return otherIDs(obj.id, o.ID)
}

// runAliases are the de-duplication keys the object answers besides the task's key.
func (obj *object) runAliases() []string {
	switch obj.kind {
	case ioc.KindFile:
		var out []string
		for _, h := range []string{obj.file.MD5, obj.file.SHA1, obj.file.SHA256, obj.id} {
			if h != "" {
				out = append(out, "file:"+h)
			}
		}
		return out
	case ioc.KindURL:
		out := []string{"url:" + obj.id}
		if obj.url.URL != "" {
			out = append(out, "url:"+ioc.URLSHA256ID(obj.url.URL))
		}
		return out
	}
	return []string{string(obj.kind) + ":" + obj.id}
}

func fileObject(f *vt.File) *object {
	obj := &object{kind: ioc.KindFile, id: f.ID, typ: f.Type, raw: f.Raw, attrs: attrsOf(f.Object.Attributes), file: f.Attributes, common: f.Attributes.CommonAttributes}
	if obj.id == "" {
		obj.id = f.Attributes.SHA256
	}
	return obj
}

func urlObject(u *vt.URL) *object {
	return &object{kind: ioc.KindURL, id: u.ID, typ: u.Type, raw: u.Raw, attrs: attrsOf(u.Object.Attributes), url: u.Attributes, common: u.Attributes.CommonAttributes}
}

func domainObject(d *vt.Domain) *object {
	return &object{kind: ioc.KindDomain, id: d.ID, typ: d.Type, raw: d.Raw, attrs: attrsOf(d.Object.Attributes), domain: d.Attributes, common: d.Attributes.CommonAttributes}
}

func ipObject(ip *vt.IPAddress) *object {
	return &object{kind: ioc.KindIP, id: ip.ID, typ: ip.Type, raw: ip.Raw, attrs: attrsOf(ip.Object.Attributes), ip: ip.Attributes, common: ip.Attributes.CommonAttributes}
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
	return r.d.Policy.Verdict(obj.kind, r.evidence(obj))
}

// baseEntry is the context entry of an object with its risk level.
func (r *run) baseEntry(obj *object) ContextEntry {
	v := r.verdict(obj)
	e := ContextEntry{Type: string(obj.kind), ID: obj.id, RiskLevel: v.Level.String(), RiskLevelCode: v.Level.Code(), RiskReason: v.Reason}
	if obj.common.LastAnalysisStats != nil {
		e.set("last_analysis_stats", *obj.common.LastAnalysisStats)
	} else {
		e.set("last_analysis_stats", nil)
	}
	e.set("reputation", obj.common.Reputation)
	if obj.common.LastAnalysisDate != 0 {
		e.set("last_analysis_date", obj.common.LastAnalysisDate.Time())
	}
	if obj.fromCache {
		e.set("cached", true)
	}
	return e
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

// detail collects a context field per input (nil where absent).
func detail(rs []Result, k string) []any {
	out := make([]any, len(rs))
	for i, res := range rs {
		if res.Err == nil {
			out[i] = res.Context.Details[k]
		}
	}
	return out
}
