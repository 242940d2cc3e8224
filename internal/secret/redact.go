package secret

import (
	"net/url"
	"strings"
)

// RedactURL returns s with the password of its user info replaced by "xxxxx" (a proxy
// URL such as http://user:pass@proxy:3128). A URL without a password, or text that is
// not a URL, is returned as it is.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Redact returns s with every occurrence of secret (an API key, a password, an HMAC
// key) replaced by "[redacted]", as a last guard before s is logged, stored or sent;
// an empty secret changes nothing.
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}
