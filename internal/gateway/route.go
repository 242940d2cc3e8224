package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// read is how a GET is answered.
type read int

const (
	// readNone: forwarded to VirusTotal every time, never cached.
	readNone read = iota
	// readObject: a file, URL, domain or IP address report, from the store's cache
	// of reports (the one the commands use) by any of the object's ids.
	readObject
	// readAnalysis: an analysis, cached once completed (it no longer changes).
	readAnalysis
	// readPage: relationships, comments, votes, behaviour summaries, searches,
	// metadata and reports asked with a query, cached by their canonical request.
	readPage
)

// Kinds of the cache entries the gateway adds to the store's cache of a server, besides
// the object reports (ioc.Kinds) it shares with the commands.
const (
	// kindAnalysis entries are completed analyses, by analysis id.
	kindAnalysis ioc.Kind = "analysis"
	// kindPage entries are answers cached by their canonical request (pageKey).
	kindPage ioc.Kind = "page"
	// kindCommunity entries mark, by their fetch time, when an object last got a
	// comment or a vote through the gateway: a cached page of its comments or votes
	// older than that is not served.
	kindCommunity ioc.Kind = "community"
)

// route is what the gateway knows of a request from its method and path.
type route struct {
	// endpoint is the route pattern ("GET /files/{id}", vt.Endpoint's names), for the
	// ledger, the metrics and the log: never an id.
	endpoint string
	// rel is the escaped path under /api/v3 ("/files/abc"), as forwarded.
	rel string
	// read says how a GET is answered.
	read read
	// obj is the object the request is about (a report, its relationships, a write
	// on it), when its id parsed; collection is its collection.
	obj        ioc.Observable
	collection vt.Collection
	// pageKey is the canonical request of a readPage answer; analysisID the id of a
	// readAnalysis one.
	pageKey, analysisID string
	// community marks pages of comments, votes and the caller's own data, which a
	// comment or a vote posted through the gateway makes stale.
	community bool
	// premium marks what VirusTotal serves to premium keys only.
	premium bool
	// unmetered marks what VirusTotal does not count against the quota.
	unmetered bool
	// uploadURL marks GET /files/upload_url, whose URL the gateway replaces by its own.
	uploadURL bool
	// user is the id of /users/{id}[/...] ("" otherwise): the caller's gateway key
	// there stands for the connection's real key.
	user string
	// changes marks a write that changes obj (a rescan, a comment, a vote): its cached
	// report is made stale; comment and vote also mark its community pages stale.
	changes, commented bool
	// submitsURL marks POST /urls, whose URL's cached report is made stale.
	submitsURL bool
	// long marks requests whose bodies take long to send or to read: uploads and
	// downloads.
	long bool
}

// premiumPrefixes are the first path segments of VirusTotal's premium-only API
// (VirusTotal Intelligence, feeds, VT Monitor, private scanning).
var premiumPrefixes = []string{"intelligence", "feeds", "monitor", "monitor_partner", "private"}

// classify reads a request under /api/v3: method, the escaped path under it and the
// query.
func classify(method, rel string, query url.Values) route {
	rt := route{rel: rel, endpoint: vt.Endpoint(method, "/api/v3"+rel)}
	segs := strings.Split(strings.Trim(rel, "/"), "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			return rt
		}
		segs[i] = u
	}
	if slices.Contains(premiumPrefixes, segs[0]) {
		rt.premium = true
	}
	get := method == http.MethodGet
	switch segs[0] {
	case "users":
		if len(segs) >= 2 {
			rt.user = segs[1]
			rt.unmetered = len(segs) == 3 && segs[2] == "overall_quotas"
		}
		return rt
	case "analyses":
		if get && len(segs) == 2 && len(query) == 0 {
			rt.read, rt.analysisID = readAnalysis, segs[1]
		}
		return rt
	case "search", "metadata":
		if get && len(segs) == 1 {
			rt.read, rt.pageKey = readPage, segs[0]+"?"+query.Encode()
		}
		return rt
	case "intelligence":
		if get && len(segs) == 2 && segs[1] == "search" {
			rt.read, rt.pageKey = readPage, "intelligence/search?"+query.Encode()
		}
		return rt
	case "files":
		if len(segs) == 1 && method == http.MethodPost {
			rt.long = true
			return rt
		}
		if len(segs) == 2 && segs[1] == "upload_url" {
			rt.uploadURL = get
			return rt
		}
	case "urls":
		if len(segs) == 1 && method == http.MethodPost {
			rt.submitsURL = true
			return rt
		}
	}
	col, ok := vt.ParseCollection(segs[0])
	if !ok || len(segs) < 2 || string(col) != segs[0] {
		return rt
	}
	kind := kindOf(col)
	o, err := ioc.ParseAs(kind, segs[1])
	if err != nil {
		return rt
	}
	rt.obj, rt.collection = o, col
	canon := string(col) + "/" + canonicalID(o)
	if query.Has("relationships") && query.Get("relationships") == "" {
		// ?relationships= (XSOAR sends it) asks for none: the report itself.
		query = cloneWithout(query, "relationships")
	}
	q := ""
	if len(query) > 0 {
		q = "?" + query.Encode()
	}
	switch {
	case len(segs) == 2 && get && len(query) == 0:
		rt.read = readObject
	case len(segs) == 2 && get:
		rt.read, rt.pageKey = readPage, canon+q
	case len(segs) == 3 && segs[2] == "analyse" && method == http.MethodPost:
		rt.changes = true
	case len(segs) == 3 && (segs[2] == "comments" || segs[2] == "votes") && method == http.MethodPost:
		rt.changes, rt.commented = true, true
	case len(segs) == 3 && col == vt.CollectionFiles && (segs[2] == "download" || segs[2] == "download_url"):
		rt.premium = true
		rt.long = segs[2] == "download"
	case len(segs) == 3 && col == vt.CollectionFiles && segs[2] == "behaviour_summary" && get:
		rt.read, rt.pageKey = readPage, canon+"/behaviour_summary"+q
	case (len(segs) == 3 || len(segs) == 4 && segs[2] == "relationships") && get:
		name := segs[len(segs)-1]
		r, known := vt.LookupRelationship(col, name)
		if !known {
			return rt // forwarded as it is: VirusTotal says what it is
		}
		rt.premium = r.Premium()
		rt.community = r.Access == vt.AccessOwnData || r.Name == "comments" || r.Name == "votes"
		rt.read, rt.pageKey = readPage, canon+"/"+strings.Join(segs[2:], "/")+q
	}
	return rt
}

// cloneWithout returns q without the parameter name.
func cloneWithout(q url.Values, name string) url.Values {
	out := url.Values{}
	for k, v := range q {
		if k != name {
			out[k] = v
		}
	}
	return out
}

// kindOf is the observable kind of a collection's objects.
func kindOf(col vt.Collection) ioc.Kind {
	for _, k := range ioc.Kinds() {
		if command.Collection(k) == col {
			return k
		}
	}
	return ""
}

// canonicalID is the id that names an object whichever of its ids it was asked by,
// where that is known without asking VirusTotal: a URL by the sha256 of its canonical
// form, anything else by its id (a file by the hash given).
func canonicalID(o ioc.Observable) string {
	if o.Kind == ioc.KindURL && o.Value != "" {
		return ioc.URLSHA256ID(o.Value)
	}
	return o.ID
}

// noun is how VirusTotal names an object kind in its not-found messages.
func noun(k ioc.Kind) string {
	switch k {
	case ioc.KindFile:
		return "File"
	case ioc.KindURL:
		return "URL"
	case ioc.KindDomain:
		return "Domain"
	case ioc.KindIP:
		return "IP address"
	}
	return "Object"
}
