package secret

import (
	"net/url"

	"github.com/vtsoar/vtsoar/vt"
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

// Redact returns s with secret (an API key, a password, an HMAC key) replaced by
// "[REDACTED]", as a last guard before s is logged, stored or sent. It finds the
// secret as vt.Redact does, the one rule for both: wherever it stands as a value (a
// path segment, a quoted string, the whole text), whatever its length, and inside
// other text too when it has 4 characters or more; an empty secret changes nothing.
func Redact(s, secret string) string { return vt.Redact(s, secret) }
