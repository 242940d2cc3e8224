package server

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// maxPreferWait bounds Prefer: wait (the longest a command's answer is held).
const maxPreferWait = 5 * time.Minute

// preferences are what a request's Prefer headers (RFC 7240) ask of a command: to
// answer at once with a run (respond-async), and how long the client will wait for
// the answer (wait).
type preferences struct {
	async bool
	// wait is the wait preference; hasWait says it was given.
	wait    time.Duration
	hasWait bool
}

// parsePrefer reads the Prefer header fields of a request (RFC 7240, section 2):
// comma-separated preferences, each a token with an optional value (a token or a
// quoted string) and parameters after semicolons; names are case-insensitive, and of
// a preference given twice the first counts. Preferences vtsoar does not know are
// ignored, as the RFC asks; a wait whose value is not a number of seconds is refused,
// since the client would get something else than it asked for.
func parsePrefer(fields []string) (preferences, error) {
	var p preferences
	seen := map[string]bool{}
	for _, field := range fields {
		for _, pref := range splitOutsideQuotes(field, ',') {
			name, value, ok := preference(pref)
			if !ok || seen[name] {
				continue
			}
			seen[name] = true
			switch name {
			case "respond-async":
				p.async = true
			case "wait":
				n, err := strconv.ParseUint(value, 10, 32)
				if err != nil || value == "" || value[0] == '+' {
					return p, badRequest("Prefer: wait=%q: want a number of seconds", value)
				}
				p.wait, p.hasWait = min(time.Duration(n)*time.Second, maxPreferWait), true
			}
		}
	}
	return p, nil
}

// preference splits one preference into its lower-case name and its value (its
// parameters are dropped; vtsoar's preferences take none); ok is false for an empty
// or malformed one.
func preference(s string) (name, value string, ok bool) {
	head := strings.TrimSpace(splitOutsideQuotes(s, ';')[0])
	name, value, hasValue := strings.Cut(head, "=")
	name = strings.ToLower(strings.TrimSpace(name))
	if !isToken(name) {
		return "", "", false
	}
	if !hasValue {
		return name, "", true
	}
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, `"`) {
		v, ok := unquote(value)
		return name, v, ok
	}
	if !isToken(value) {
		return "", "", false
	}
	return name, value, true
}

// splitOutsideQuotes splits s at each sep that is not inside a quoted string.
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote reads a quoted-string (RFC 9110, section 5.6.4) that is all of s.
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s)-1 {
				return "", false
			}
			i++
			b.WriteByte(s[i])
		case c == '"':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// isToken reports whether s is an HTTP token (RFC 9110, section 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !httpguts.IsTokenRune(r) {
			return false
		}
	}
	return true
}
