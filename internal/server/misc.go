package server

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request, _ *store.User) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(openapiDoc())
	return nil
}

// handleHealthz answers 200 when the store answers, 503 otherwise.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request, _ *store.User) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.cfg.Store.ListConnections(ctx); err != nil {
		s.log.WarnContext(r.Context(), "health check: store", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "detail": "the store does not answer"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// userOut is a user as the API shows it (never the token or its hash).
type userOut struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Sites     []string  `json:"sites"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request, _ *store.User) error {
	list, err := s.cfg.Store.ListUsers(r.Context())
	if err != nil {
		return internal(err)
	}
	out := []userOut{}
	for _, u := range list {
		out = append(out, userOut{Name: u.Name, Role: u.Role, Sites: nonNil(u.Sites), CreatedAt: u.CreatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}
