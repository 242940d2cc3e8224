package command

import (
	"encoding/json"

	"github.com/vtsoar/vtsoar/vt"
)

// descriptor names a related object or a search result.
type descriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// collected is what collectPages read: objects up to a limit, page after page.
type collected struct {
	descs  []descriptor
	objs   []json.RawMessage // each object as VirusTotal sent it
	pages  int
	cursor string // where the next page starts; empty once every page was read
}

// collectPages asks fetch for pages (fetch(cursor, n) returns at most n objects from
// cursor on) until limit objects are read or VirusTotal has no more.
func collectPages(limit int, fetch func(cursor string, n int) (*vt.Page, error)) (collected, error) {
	c := collected{descs: []descriptor{}, objs: []json.RawMessage{}}
	for len(c.descs) < limit {
		page, err := fetch(c.cursor, min(vt.MaxPageLimit, limit-len(c.descs)))
		if err != nil {
			return c, err
		}
		c.pages++
		for _, o := range page.Objects {
			if len(c.descs) >= limit {
				break
			}
			c.descs = append(c.descs, descriptor{Type: o.Type, ID: o.ID})
			raw := o.Raw
			if len(raw) == 0 {
				raw, _ = json.Marshal(o)
			}
			c.objs = append(c.objs, raw)
		}
		c.cursor = page.Cursor
		if c.cursor == "" || len(page.Objects) == 0 {
			c.cursor = ""
			break
		}
	}
	return c, nil
}

// rawPage returns the objects read as one VirusTotal-shaped page:
// {"data": [...], "meta": {"count": N, "cursor": "..."}}.
func (c collected) rawPage() (json.RawMessage, error) {
	meta := map[string]any{"count": len(c.descs)}
	if c.cursor != "" {
		meta["cursor"] = c.cursor
	}
	return json.Marshal(map[string]any{"data": c.objs, "meta": meta})
}
