package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/vtsoar/vtsoar/internal/store"
)

// TokenPrefix starts every bearer token, so that secret scanners recognise a leaked one.
const TokenPrefix = "vtsoar_"

// DefaultSite is the site of an event or file posted without one by a user of every
// site.
const DefaultSite = "default"

// NewToken returns a new bearer token (TokenPrefix and 32 random bytes in base64url)
// and the hash the store keeps.
func NewToken() (token string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken returns the SHA-256 of a token, the form users are looked up by.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateUser stores a new user with a fresh token and returns the token, which is
// shown once and cannot be recovered. Sites empty means every site.
func CreateUser(ctx context.Context, st store.Users, name, role string, sites []string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " \t\r\n/") {
		return "", fmt.Errorf("user name %q must be non-empty and without spaces or '/'", name)
	}
	if role != store.RoleAdmin && role != store.RoleAnalyst {
		return "", fmt.Errorf("role %q: want %s or %s", role, store.RoleAdmin, store.RoleAnalyst)
	}
	sites, err := cleanSites(sites)
	if err != nil {
		return "", err
	}
	if len(sites) == 0 {
		sites = []string{store.AllSites}
	}
	token, hash := NewToken()
	if err := st.CreateUser(ctx, store.User{Name: name, Role: role, Sites: sites, TokenHash: hash}); err != nil {
		return "", err
	}
	return token, nil
}

// cleanSites trims and de-duplicates site names; "*" stands alone.
func cleanSites(sites []string) ([]string, error) {
	var out []string
	for _, s := range sites {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, errors.New("empty site name")
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if slices.Contains(out, store.AllSites) && len(out) > 1 {
		return nil, errors.New(`"*" (every site) cannot be combined with other sites`)
	}
	return out, nil
}

var errUnauthenticated = &apiError{status: http.StatusUnauthorized, typ: ProblemUnauthenticated,
	detail: "a bearer token is required: Authorization: Bearer TOKEN (make one with `vtsoar user add`)"}

// authenticate returns the user whose token the request carries.
func (s *Server) authenticate(r *http.Request) (*store.User, error) {
	tok, ok := bearer(r)
	if !ok {
		return nil, errUnauthenticated
	}
	u, err := s.cfg.Store.UserByTokenHash(r.Context(), HashToken(tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil, &apiError{status: http.StatusUnauthorized, typ: ProblemUnauthenticated,
			detail: "the bearer token is not valid (revoked, or never issued)"}
	}
	if err != nil {
		return nil, internal(err)
	}
	return &u, nil
}

// allSites reports whether u sees every site.
func allSites(u *store.User) bool {
	return slices.Contains(u.Sites, store.AllSites)
}

// seesSite reports whether u may see what belongs to site.
func seesSite(u *store.User, site string) bool {
	return allSites(u) || slices.Contains(u.Sites, site)
}

// userSites returns the sites whose events u sees, nil meaning all.
func userSites(u *store.User) []string {
	if allSites(u) {
		return nil
	}
	return slices.Clone(u.Sites)
}

// siteFor picks the site of something u posts: the one asked for, which u must belong
// to; else u's only site; else DefaultSite for a user of every site.
func siteFor(u *store.User, asked string) (string, error) {
	asked = strings.TrimSpace(asked)
	if asked != "" {
		if asked == store.AllSites {
			return "", badRequest(`"*" is not a site`)
		}
		if !seesSite(u, asked) {
			return "", forbidden("user %s does not belong to site %q", u.Name, asked)
		}
		return asked, nil
	}
	if allSites(u) {
		return DefaultSite, nil
	}
	if len(u.Sites) == 1 {
		return u.Sites[0], nil
	}
	return "", badRequest("user %s belongs to several sites (%s): say which one with \"site\"", u.Name, strings.Join(u.Sites, ", "))
}

// mayUse reports why u may not run conn, or nil. Admins may run every connection; an
// analyst must be among its users (when it lists any) and share a site with it (when
// it names any).
func mayUse(u *store.User, c store.Connection) error {
	if u.Role == store.RoleAdmin {
		return nil
	}
	if len(c.Users) > 0 && !slices.Contains(c.Users, u.Name) {
		return forbidden("user %s may not use connection %s", u.Name, c.Name)
	}
	if len(c.Sites) > 0 && !allSites(u) && !slices.ContainsFunc(c.Sites, func(s string) bool { return slices.Contains(u.Sites, s) }) {
		return forbidden("connection %s does not serve the sites of user %s", c.Name, u.Name)
	}
	return nil
}
