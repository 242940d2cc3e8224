package server

import (
	"context"
	"net/http"

	"github.com/vtsoar/vtsoar/internal/store"
)

// Enricher is the background service (package enrich) behind events, health checks
// and jobs.
type Enricher interface{}

// JobCounter is implemented by an Enricher that reports its queue: jobs by state.
type JobCounter interface {
	JobCounts(ctx context.Context) (map[string]int, error)
}

func (s *Server) handleSubmitEvent(w http.ResponseWriter, r *http.Request, u *store.User) error {
	return unavailable("events need the enrichment service")
}

func (s *Server) handleListEvents(w http.ResponseWriter, r *http.Request, u *store.User) error {
	return unavailable("events need the enrichment service")
}

func (s *Server) handleGetEvent(w http.ResponseWriter, r *http.Request, u *store.User) error {
	return unavailable("events need the enrichment service")
}

func (s *Server) handleTestConnection(w http.ResponseWriter, r *http.Request, u *store.User) error {
	return unavailable("connection tests need the enrichment service")
}

func (s *Server) handleConnectionHealth(w http.ResponseWriter, r *http.Request, u *store.User) error {
	return unavailable("health history needs the enrichment service")
}

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request, u *store.User) error {
	return unavailable("jobs need the enrichment service")
}
