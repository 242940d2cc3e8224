package store

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The rules of what people name and give: connection, user and site names, API keys,
// and any other text kept or echoed (a connection's list of users). The CLI, the REST
// API and the console check with these functions, so that one rule holds at every
// door; the errors quote the value with its control characters escaped.

// MaxNameLen bounds a connection name, in characters.
const MaxNameLen = 100

// ControlChar returns the first control character of s: C0 (NUL to US), DEL or C1
// (U+0080 to U+009F), or utf8.RuneError when s is not valid UTF-8; ok is false when
// s holds none. A terminal acts on such characters (ESC starts an escape sequence)
// and browsers strip some of them (TAB, CR, LF) from URLs, so they are kept out of
// everything vtsoar stores or sends back.
func ControlChar(s string) (r rune, ok bool) {
	for i, c := range s {
		if c == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return c, true
			}
		}
		if c < 0x20 || (c >= 0x7f && c <= 0x9f) {
			return c, true
		}
	}
	return 0, false
}

// CheckText refuses s when it holds a control character or is not valid UTF-8; what
// names s in the error ("site name", "comment").
func CheckText(what, s string) error {
	r, bad := ControlChar(s)
	if !bad {
		return nil
	}
	if r == utf8.RuneError {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	return fmt.Errorf("%s %q holds a control character (%U)", what, s, r)
}

// CheckConnectionName refuses a connection name that is empty, longer than MaxNameLen
// characters, or holds white space, '/', '?', '#', '%' or a control character: a
// name is part of URLs (/api/v1/connections/{name}) and of command lines.
func CheckConnectionName(name string) error { return checkPathName("connection name", name) }

// CheckGatewayKeyName refuses a gateway key name as CheckConnectionName refuses a
// connection name: it is part of URLs (/api/v1/gateway-keys/{name}), command lines
// and the ledger's requesters.
func CheckGatewayKeyName(name string) error { return checkPathName("gateway key name", name) }

// checkPathName is the rule of names that are part of URLs: what, named so in errors.
func checkPathName(what, name string) error {
	if err := CheckText(what, name); err != nil {
		return err
	}
	if name == "" || utf8.RuneCountInString(name) > MaxNameLen || strings.ContainsFunc(name, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("/?#%", r)
	}) {
		return fmt.Errorf("%s %q must be 1 to %d characters without spaces, '/', '?', '#' or '%%'", what, name, MaxNameLen)
	}
	return nil
}

// CheckUserName refuses a user name that is empty or holds white space, '/' or a
// control character.
func CheckUserName(name string) error {
	if err := CheckText("user name", name); err != nil {
		return err
	}
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || r == '/' }) {
		return fmt.Errorf("user name %q must be non-empty and without spaces or '/'", name)
	}
	return nil
}

// CheckSiteName refuses a site name that is empty or holds a control character.
func CheckSiteName(name string) error {
	if err := CheckText("site name", name); err != nil {
		return err
	}
	if name == "" {
		return errors.New("empty site name")
	}
	return nil
}

// CheckAPIKey refuses an API key that is empty or holds white space or a control
// character (a key is sent in a header, where CR or LF would end it). The error never
// holds the key.
func CheckAPIKey(key string) error {
	switch {
	case key == "":
		return errors.New("the API key is empty")
	case strings.ContainsFunc(key, unicode.IsSpace):
		return errors.New("the API key holds white space or several lines")
	}
	if _, bad := ControlChar(key); bad {
		return errors.New("the API key holds a control character or is not valid UTF-8")
	}
	return nil
}
