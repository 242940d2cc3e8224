package console

// The sign-in and sign-out pages: a bearer token in, a session (its id in an HttpOnly
// cookie) out; sign-out ends the session in the store.

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/auth"
)

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, err := c.session(r); err == nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.renderLogin(w, r, http.StatusOK, "")
}

type loginData struct {
	Next string
	CSRF string
}

// renderLogin draws the sign-in page, with a double-submit CSRF cookie.
func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok := ""
	if ck, err := r.Cookie(loginCookie); err == nil && len(ck.Value) >= 32 {
		tok = ck.Value
	} else {
		var b [24]byte
		rand.Read(b[:])
		tok = base64.RawURLEncoding.EncodeToString(b[:])
		c.setCookie(w, r, loginCookie, tok, time.Hour)
	}
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostForm.Get("next")
	}
	c.render(w, r, status, "login", &view{Title: "Sign in", Error: msg, Data: loginData{Next: localPath(next), CSRF: tok}})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.renderLogin(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !c.sameOrigin(r) || !hmac.Equal([]byte(ck.Value), []byte(r.PostForm.Get("csrf"))) {
		c.renderLogin(w, r, http.StatusForbidden, "This sign-in form is out of date. It has been reloaded: paste your token again.")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	token = strings.TrimPrefix(token, "Bearer ")
	if token == "" {
		c.renderLogin(w, r, http.StatusBadRequest, "Paste your token: an administrator makes one with `vtsoar user add NAME --role analyst`.")
		return
	}
	ar := r.Clone(r.Context())
	ar.Header = http.Header{"Authorization": {"Bearer " + token}}
	u, err := c.cfg.Authenticate(ar)
	if err != nil {
		c.log.InfoContext(r.Context(), "console: sign-in refused", "remote", r.RemoteAddr, "error", err)
		c.renderLogin(w, r, http.StatusUnauthorized, "That token was not accepted: it may be mistyped, or revoked. Tokens start with vtsoar_.")
		return
	}
	id, hash := auth.NewSessionID()
	if err := c.cfg.Store.CreateSession(r.Context(), hash, u.Name, c.limits); err != nil {
		c.log.ErrorContext(r.Context(), "console: starting a session", "user", u.Name, "error", err)
		c.renderLogin(w, r, http.StatusServiceUnavailable, "The session could not be started; the details are in the service's log. Try again.")
		return
	}
	c.setCookie(w, r, sessionCookie, id, c.cfg.SessionMaxAge)
	c.setCookie(w, r, loginCookie, "", -1)
	c.log.InfoContext(r.Context(), "console: signed in", "user", u.Name)
	http.Redirect(w, r, localPath(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.cfg.Store.DeleteSession(r.Context(), s.idHash); err != nil {
		return err
	}
	c.setCookie(w, r, sessionCookie, "", -1)
	c.log.InfoContext(r.Context(), "console: signed out", "user", s.user.Name)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
