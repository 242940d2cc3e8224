package server

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/store"
)

// DefaultSite is the site of an event or file posted without one by a user of every
// site.
const DefaultSite = "default"

var errUnauthenticated = &apiError{status: http.StatusUnauthorized, typ: ProblemUnauthenticated,
	detail: "a bearer token is required: Authorization: Bearer TOKEN (make one with `vtsoar user add`)"}

// authenticate returns the user whose token the request carries.
func (s *Server) authenticate(r *http.Request) (*store.User, error) {
	tok, ok := bearer(r)
	if !ok {
		return nil, errUnauthenticated
	}
	u, err := s.cfg.Store.UserByTokenHash(r.Context(), auth.HashToken(tok))
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
		if err := store.CheckSiteName(asked); err != nil {
			return "", badRequest("site: %v", err)
		}
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
