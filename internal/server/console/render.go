package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

// view is what every page template gets.
type view struct {
	// Title is the page's title; Nav the menu entry to highlight.
	Title, Nav string
	// Session is the signed-in user (nil on the sign-in page).
	Session *session
	// Error and Notice are messages shown at the top of the page.
	Error, Notice string
	// Data is the page's own data.
	Data any
}

// User returns the signed-in user, or nil.
func (v *view) User() *store.User {
	if v.Session == nil {
		return nil
	}
	return v.Session.user
}

// IsAdmin reports whether the signed-in user is an admin (to show admin links; the
// API decides what they may do).
func (v *view) IsAdmin() bool {
	u := v.User()
	return u != nil && u.Role == store.RoleAdmin
}

// CSRF returns the session's CSRF token for forms.
func (v *view) CSRF() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.csrf
}

var funcs = template.FuncMap{
	"riskClass": riskClass,
	"join":      strings.Join,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"pretty": func(v any) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Sprint(v)
		}
		return strings.TrimSpace(b.String())
	},
	"prettyRaw": func(raw json.RawMessage) string {
		var b bytes.Buffer
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			return string(raw)
		}
		return b.String()
	},
	"sortedKeys": func(m map[string]any) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	},
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
	"add":   func(a, b int) int { return a + b },
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05 UTC") },
	"list":  func(s ...string) []string { return s },
}

// riskClass returns the CSS class of a risk level's badge.
func riskClass(level string) string {
	switch strings.ToLower(level) {
	case "high":
		return "risk risk-high"
	case "medium":
		return "risk risk-medium"
	case "low":
		return "risk risk-low"
	case "zerorisk":
		return "risk risk-zero"
	}
	return "risk risk-na"
}

// parseTemplates parses every page with the layout and the partials (the templates
// whose names start with "_", which pages include).
func (c *Console) parseTemplates() error {
	c.pages = map[string]*template.Template{}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return fmt.Errorf("console: templates: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return fmt.Errorf("console: template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	return nil
}

// render writes a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	t, ok := c.pages[page]
	if !ok {
		http.Error(w, "no page "+page, http.StatusInternalServerError)
		return
	}
	if v.Nav == "" {
		v.Nav = page
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		c.log.ErrorContext(r.Context(), "console: rendering failed", "page", page, "error", err)
		http.Error(w, "the page could not be drawn; the error is in the service's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(b.Bytes())
	}
}
