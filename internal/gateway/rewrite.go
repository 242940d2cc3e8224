package gateway

import (
	"bytes"
)

// rewriteLinks returns body with every link of VirusTotal's "links" objects that
// points at the upstream API (a "self", "next", "related" or "item" member whose
// value starts with from, the upstream server's /api/v3/) pointing at the gateway's
// (to) instead, so that iterators, cursors and the links between objects stay on the
// gateway. Nothing else changes: the other bytes are VirusTotal's. body is returned
// as it is when no link needs it.
func rewriteLinks(body []byte, from, to string) []byte {
	if from == to {
		return body
	}
	f := []byte(from)
	var out []byte
	last := 0
	for i := 0; ; {
		j := bytes.Index(body[i:], f)
		if j < 0 {
			break
		}
		at := i + j
		i = at + len(f)
		if !isLinkValue(body, at) {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(body)+512)
		}
		out = append(out, body[last:at]...)
		out = append(out, to...)
		last = i
	}
	if out == nil {
		return body
	}
	return append(out, body[last:]...)
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
