package command

import (
	"context"
	"strings"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// searchCommands returns search (see registry.go).
func searchCommands() []*Command {
	return []*Command{{
		Name:  "search",
		Title: "Search",
		Group: "search",
		Short: "Search VirusTotal for hashes, URLs, domains, IPs or comment tags",
		Long: `Runs VirusTotal's basic search (GET /search) for each query: a file hash, URL,
domain, IP address or comment tag. Observables are normalised first (defanged input is
accepted). Results are paged up to --limit per query (default 40).`,
		InputHelp:  "QUERY",
		newOptions: newLimitOptions,
		plan: func(r *run, input string) (task, *Failure) {
			q := searchQuery(input)
			if q == "" {
				return task{}, r.invalidInput("the query is empty")
			}
			t := task{key: "search:" + q, text: q}
			if o, err := ioc.Parse(q); err == nil {
				t.obs = o // a query that is an observable is skipped as one (a private address)
			}
			return t, nil
		},
		exec:      execSearch,
		newFields: func() Fields { return &SearchFields{} },
		keyFields: func(rs []Result) map[string]any {
			out := make([][]string, len(rs))
			for i, res := range rs {
				out[i] = []string{}
				if f, ok := res.Context.Fields.(*SearchFields); ok && res.Err == nil && f.SearchResults != nil {
					out[i] = descriptorIDs(f.Results)
				}
			}
			counts := perInput(rs, func(f *SearchFields) (int, bool) {
				if f.SearchResults == nil {
					return 0, false
				}
				return f.Count, true
			})
			return map[string]any{"ResultIDs": out, "Counts": counts}
		},
		NotFound: "Not Found.",
		Invalid:  "Invalid Query.",
	}}
}

// searchQuery normalises a query: an observable to its canonical form, anything else
// (a comment tag, a search expression) trimmed.
func searchQuery(input string) string {
	s := strings.TrimSpace(input)
	if s == "" {
		return ""
	}
	if o, err := ioc.Parse(s); err == nil {
		if o.Kind == ioc.KindURL && o.Value != "" {
			return o.Value
		}
		if o.ID != "" {
			return o.ID
		}
	}
	return s
}

// SearchFields are the fields of search's entries: the query and, once run, its
// results.
type SearchFields struct {
	Query string `json:"query"`
	*SearchResults
}

// SearchResults are what a search found.
type SearchResults struct {
	Results []Descriptor `json:"results"`
	Count   int          `json:"count"`
	More    bool         `json:"more"`
}

func (*SearchFields) fields() {}

func execSearch(ctx context.Context, r *run, t task) outcome {
	f := &SearchFields{Query: t.text}
	entry := ContextEntry{Fields: f}
	c, err := collectPages(options[*LimitOptions](r).Limit, func(cursor string, n int) (*vt.Page, error) {
		return r.d.Client.Search(ctx, t.text, vt.ListOptions{Limit: n, Cursor: cursor})
	})
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	f.SearchResults = &SearchResults{Results: c.descs, Count: len(c.descs), More: c.cursor != ""}
	raw, err := c.rawPage()
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	return outcome{entry: entry, raw: raw}
}
