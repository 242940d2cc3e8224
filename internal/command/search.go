package command

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

func init() {
	register(&Command{
		Name:  "search",
		Title: "Search",
		Group: "search",
		Short: "Search VirusTotal for hashes, URLs, domains, IPs or comment tags",
		Long: `Runs VirusTotal's basic search (GET /search) for each query: a file hash, URL,
domain, IP address or comment tag. Observables are normalised first (defanged input is
accepted). Results are paged up to --limit per query (default 40).`,
		Options:   []string{OptLimit},
		InputHelp: "QUERY",
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
	})
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
	var objs []json.RawMessage
	results := []descriptor{}
	cursor := ""
	for len(results) < r.limit {
		page, err := r.d.Client.Search(ctx, t.text, vt.ListOptions{Limit: min(vt.MaxPageLimit, r.limit-len(results)), Cursor: cursor})
		if err != nil {
			return outcome{entry: entry, fail: r.failure(err)}
		}
		for _, o := range page.Objects {
			if len(results) >= r.limit {
				break
			}
			results = append(results, descriptor{Type: o.Type, ID: o.ID})
			raw := o.Raw
			if len(raw) == 0 {
				raw, _ = json.Marshal(o)
			}
			objs = append(objs, raw)
		}
		cursor = page.Cursor
		if cursor == "" || len(page.Objects) == 0 {
			cursor = ""
			break
		}
	}
	entry.set("results", results)
	entry.set("count", len(results))
	entry.set("more", cursor != "")
	if objs == nil {
		objs = []json.RawMessage{}
	}
	meta := map[string]any{"count": len(results)}
	if cursor != "" {
		meta["cursor"] = cursor
	}
	raw, _ := json.Marshal(map[string]any{"data": objs, "meta": meta})
	return outcome{entry: entry, raw: raw}
}
