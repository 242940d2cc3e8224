package server

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
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

// consoleUser is the context key of the user a console session's in-process API
// request is made as (asUser). A request from the network cannot carry it.
type consoleUser struct{}

// asUser returns ctx carrying u: the console's requests to the API are taken as u's.
func asUser(ctx context.Context, u *store.User) context.Context {
	return context.WithValue(ctx, consoleUser{}, u)
}

// authenticate returns the user whose token the request carries, or the console
// session's user an in-process request is made as.
func (s *Server) authenticate(r *http.Request) (*store.User, error) {
	if u, ok := r.Context().Value(consoleUser{}).(*store.User); ok && u != nil {
		return u, nil
	}
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

// secure reports whether r came over HTTPS: over TLS to this process, from a trusted
// proxy (Config.TrustedProxies) whose X-Forwarded-Proto says https, or always with
// Config.CookieSecure.
func (s *Server) secure(r *http.Request) bool {
	if r.TLS != nil || s.cfg.CookieSecure {
		return true
	}
	if len(s.cfg.TrustedProxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !slices.ContainsFunc(s.cfg.TrustedProxies, func(p netip.Prefix) bool { return p.Contains(ap.Addr().Unmap()) }) {
		return false
	}
	// The last value is the one the trusted proxy wrote (an earlier one may be the
	// client's).
	protos := strings.Split(strings.Join(r.Header.Values("X-Forwarded-Proto"), ","), ",")
	return strings.EqualFold(strings.TrimSpace(protos[len(protos)-1]), "https")
}

// allSites reports whether u sees every site.
func allSites(u *store.User) bool { return u.SeesAllSites() }

// seesSite reports whether u may see what belongs to site.
func seesSite(u *store.User, site string) bool { return u.SeesSite(site) }

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

// mayUse reports why u may not run conn (403), or nil: store.User.MayUse.
func mayUse(u *store.User, c store.Connection) error {
	if err := u.MayUse(c); err != nil {
		return forbidden("%v", err)
	}
	return nil
}
