package store

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// DefaultPageLimit is the size of a page when none is asked for.
const DefaultPageLimit = 100

// Page asks for one page of a list ordered newest first (events, incidents, files).
type Page struct {
	// Limit bounds the page (<= 0: DefaultPageLimit).
	Limit int
	// After is where the previous page ended (its last row's Cursor); zero: from the
	// newest.
	After Cursor
}

// Cursor is a position in a list ordered newest first: the creation time and the id
// of a row. The next page starts after it, so rows added meanwhile neither repeat
// nor shift what is left.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// IsZero reports whether c is no position (the start of a list).
func (c Cursor) IsZero() bool { return c.ID == "" }

// String is the cursor as the API hands it out: opaque URL-safe text, which
// ParseCursor reads back.
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(micros(c.CreatedAt), 10) + "." + c.ID))
}

// errBadCursor is the error of a cursor that String did not make.
var errBadCursor = errors.New("not a cursor of this list (pass next_cursor as it was given)")

// ParseCursor reads a cursor written by Cursor.String; "" is the zero Cursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errBadCursor
	}
	at, id, ok := strings.Cut(string(b), ".")
	us, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return Cursor{}, errBadCursor
	}
	if err := CheckText("cursor", id); err != nil {
		return Cursor{}, errBadCursor
	}
	return Cursor{CreatedAt: fromMicros(us), ID: id}, nil
}

// limit is the page's size.
func (p Page) limit() int {
	if p.Limit <= 0 {
		return DefaultPageLimit
	}
	return p.Limit
}

// pageQuery appends to where (conditions already on the list, each a string with ?
// placeholders, and their args) the page's start, and returns the list's WHERE, ORDER
// BY and LIMIT clauses with their args. The table has created_at and id columns.
func pageQuery(p Page, where []string, args []any) (string, []any) {
	if !p.After.IsZero() {
		at := micros(p.After.CreatedAt)
		where = append(where, `(created_at < ? OR (created_at = ? AND id < ?))`)
		args = append(args, at, at, p.After.ID)
	}
	q := ""
	if len(where) > 0 {
		q = ` WHERE ` + strings.Join(where, ` AND `)
	}
	return q + ` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, p.limit())
}

// sitesIn returns the condition that site is one of sites (nil: any site), and
// whether any row can match (an empty, non-nil sites matches none).
func sitesIn(sites []string, where []string, args []any) ([]string, []any, bool) {
	if sites == nil {
		return where, args, true
	}
	if len(sites) == 0 {
		return where, args, false
	}
	where = append(where, `site IN (?`+strings.Repeat(`, ?`, len(sites)-1)+`)`)
	for _, s := range sites {
		args = append(args, s)
	}
	return where, args, true
}

// NextCursor returns where the page after a page of n rows ends, given the last row's
// cursor: the zero Cursor when the page was not full (there is nothing after it).
func NextCursor(p Page, n int, last Cursor) Cursor {
	if n < p.limit() {
		return Cursor{}
	}
	return last
}
