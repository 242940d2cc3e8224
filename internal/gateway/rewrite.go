package gateway

import (
	"bytes"
	"io"
)

// rewriteLinks returns body with every link of VirusTotal's "links" objects that
// points at the upstream API (a "self", "next", "related" or "item" member whose
// value starts with from, the upstream server's /api/v3/) pointing at the gateway's
// (to) instead, so that iterators, cursors and the links between objects stay on the
// gateway. Nothing else changes: the other bytes are VirusTotal's. body is returned
// as it is when no link needs it.
func rewriteLinks(body []byte, from, to string) []byte {
	at := links(body, from, to)
	if len(at) == 0 {
		return body
	}
	var b bytes.Buffer
	b.Grow(len(body) + len(at)*(len(to)-len(from)))
	writeLinks(&b, body, at, from, to)
	return b.Bytes()
}

// links returns where in body the links that rewriteLinks rewrites start.
func links(body []byte, from, to string) []int {
	if from == to {
		return nil
	}
	f := []byte(from)
	var at []int
	for i := 0; ; {
		j := bytes.Index(body[i:], f)
		if j < 0 {
			return at
		}
		i += j
		if isLinkValue(body, i) {
			at = append(at, i)
		}
		i += len(f)
	}
}

// writeLinks writes body to w with from replaced by to at each of at (links' result),
// in pieces: the answer is not copied.
func writeLinks(w io.Writer, body []byte, at []int, from, to string) error {
	last := 0
	for _, i := range at {
		if _, err := w.Write(body[last:i]); err != nil {
			return err
		}
		if _, err := io.WriteString(w, to); err != nil {
			return err
		}
		last = i + len(from)
	}
	_, err := w.Write(body[last:])
	return err
}

// isLinkValue reports whether the string value that starts at body[at] (just after its
// opening quote) is the value of a member named as VirusTotal's links are.
func isLinkValue(body []byte, at int) bool {
	i := at - 1
	if i < 0 || body[i] != '"' {
		return false
	}
	i = skipSpaceBack(body, i-1)
	if i < 0 || body[i] != ':' {
		return false
	}
	i = skipSpaceBack(body, i-1)
	for _, name := range linkNames {
		if i+1 >= len(name) && string(body[i+1-len(name):i+1]) == name {
			return true
		}
	}
	return false
}

// linkNames are the members of VirusTotal's "links" objects: an object's or a page's
// own address, the next page, a relationship's objects, an analysis's object.
var linkNames = []string{`"self"`, `"next"`, `"related"`, `"item"`}

func skipSpaceBack(b []byte, i int) int {
	for i >= 0 && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i--
	}
	return i
}

// replaceKey returns b with every occurrence of key replaced by with (b itself when
// there is none).
func replaceKey(b []byte, key, with string) []byte {
	if key == "" || !bytes.Contains(b, []byte(key)) {
		return b
	}
	return bytes.ReplaceAll(b, []byte(key), []byte(with))
}
