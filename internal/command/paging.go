package command

import (
	"encoding/json"

	"github.com/vtsoar/vtsoar/vt"
)

// LimitOptions are the options of a command that reads pages of objects per input
// (search, get-comments, get-votes).
type LimitOptions struct {
	// Limit bounds the objects read per input.
	Limit int
}

func newLimitOptions() Options { return &LimitOptions{Limit: DefaultLimit} }

// Fields implements Options.
func (o *LimitOptions) Fields() []Field { return []Field{limitField(&o.Limit)} }

// Validate implements Options.
func (o *LimitOptions) Validate() error { return nil }

// limitField is the option --limit, held by v.
func limitField(v *int) Field {
	return Field{Name: "limit", Usage: "most objects per input, pages followed up to it", Positive: true, Value: v}
}

// Descriptor names a related object or a search result.
type Descriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// descriptorIDs are the ids of ds ([] when there are none).
func descriptorIDs(ds []Descriptor) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// collected is what collectPages read: objects up to a limit, page after page.
type collected struct {
	descs  []Descriptor
	objs   []json.RawMessage // each object as VirusTotal sent it
	pages  int
	cursor string // where the next page starts; empty once every page was read
}

// followPages reads items page after page until limit were read or VirusTotal has no
// more: fetch(cursor, n) returns at most n items from cursor on and the next page's
// cursor, and keep takes each item read. It returns how many pages it read and where
// the next page starts (empty once every page was read).
func followPages[T any](limit int, fetch func(cursor string, n int) ([]T, string, error), keep func(T)) (pages int, cursor string, err error) {
	read := 0
	for read < limit {
		items, next, err := fetch(cursor, min(vt.MaxPageLimit, limit-read))
		if err != nil {
			return pages, cursor, err
		}
		pages++
		for _, it := range items {
			if read >= limit {
				break
			}
			keep(it)
			read++
		}
		cursor = next
		if cursor == "" || len(items) == 0 {
			return pages, "", nil
		}
	}
	return pages, cursor, nil
}

// collectPages asks fetch for pages (fetch(cursor, n) returns at most n objects from
// cursor on) until limit objects are read or VirusTotal has no more.
func collectPages(limit int, fetch func(cursor string, n int) (*vt.Page, error)) (collected, error) {
	c := collected{descs: []Descriptor{}, objs: []json.RawMessage{}}
	var err error
	c.pages, c.cursor, err = followPages(limit, func(cursor string, n int) ([]*vt.Object, string, error) {
		page, err := fetch(cursor, n)
		if err != nil {
			return nil, "", err
		}
		return page.Objects, page.Cursor, nil
	}, func(o *vt.Object) {
		c.descs = append(c.descs, Descriptor{Type: o.Type, ID: o.ID})
		raw := o.Raw
		if len(raw) == 0 {
			raw, _ = json.Marshal(o)
		}
		c.objs = append(c.objs, raw)
	})
	return c, err
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
