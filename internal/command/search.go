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
			return task{key: "search:" + q, text: q}, nil
		},
		exec: execSearch,
		keyFields: func(rs []Result) map[string]any {
			out := make([][]string, len(rs))
			for i, res := range rs {
				out[i] = []string{}
				if d, ok := res.Context.Details["results"].([]descriptor); ok && res.Err == nil {
					for _, x := range d {
						out[i] = append(out[i], x.ID)
					}
				}
			}
			return map[string]any{"ResultIDs": out, "Counts": detail(rs, "count")}
		},
		noun:    "Object",
		invalid: "Invalid Query.",
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

func execSearch(ctx context.Context, r *run, t task) outcome {
	entry := ContextEntry{}
	entry.set("query", t.text)
	c, err := collectPages(options[*LimitOptions](r).Limit, func(cursor string, n int) (*vt.Page, error) {
		return r.d.Client.Search(ctx, t.text, vt.ListOptions{Limit: n, Cursor: cursor})
	})
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	entry.set("results", c.descs)
	entry.set("count", len(c.descs))
	entry.set("more", c.cursor != "")
	raw, err := c.rawPage()
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	return outcome{entry: entry, raw: raw}
}
