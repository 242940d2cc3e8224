package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/gateway"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
)

// gatewayKeyIn is a gateway key as the API takes it.
type gatewayKeyIn struct {
	Name       string           `json:"name"`
	Connection string           `json:"connection"`
	Priority   string           `json:"priority"`
	MaxWait    command.Duration `json:"max_wait"`
	MaxAge     command.Duration `json:"max_age"`
}

// gatewayKeyOut is a gateway key just made: the key is shown this once.
type gatewayKeyOut struct {
	store.GatewayKeyView
	Key string `json:"key"`
}

func (s *Server) handleCreateGatewayKey(w http.ResponseWriter, r *http.Request, u *store.User) error {
	var in gatewayKeyIn
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	key, k, err := auth.CreateGatewayKey(r.Context(), s.cfg.Store, auth.GatewayKeyOptions{Name: strings.TrimSpace(in.Name),
		Connection: strings.TrimSpace(in.Connection), Priority: in.Priority, MaxWait: time.Duration(in.MaxWait), MaxAge: time.Duration(in.MaxAge)})
	switch {
	case errors.Is(err, store.ErrExists):
		return conflict("a gateway key %q exists already", in.Name)
	case errors.Is(err, store.ErrNotFound):
		return badRequest("no connection %q", in.Connection)
	case err != nil:
		return badRequest("%v", err)
	}
	if k, err = s.cfg.Store.GetGatewayKey(r.Context(), k.Name); err != nil {
		return internal(err)
	}
	s.log.InfoContext(r.Context(), "gateway key created", "gateway_key", k.Name, "connection", k.Connection, "by", u.Name)
	w.Header().Set("Location", "/api/v1/gateway-keys/"+url.PathEscape(k.Name))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, gatewayKeyOut{GatewayKeyView: k.View(), Key: key})
	return nil
}

func (s *Server) handleListGatewayKeys(w http.ResponseWriter, r *http.Request, _ *store.User) error {
	keys, err := s.cfg.Store.ListGatewayKeys(r.Context())
	if err != nil {
		return internal(err)
	}
	out := []store.GatewayKeyView{}
	for _, k := range keys {
		out = append(out, k.View())
	}
	writeJSON(w, http.StatusOK, map[string]any{"gateway_keys": out})
	return nil
}

func (s *Server) handleGetGatewayKey(w http.ResponseWriter, r *http.Request, _ *store.User) error {
	k, err := s.cfg.Store.GetGatewayKey(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no gateway key %q", r.PathValue("name"))
	}
	if err != nil {
		return internal(err)
	}
	writeJSON(w, http.StatusOK, k.View())
	return nil
}

func (s *Server) handleDeleteGatewayKey(w http.ResponseWriter, r *http.Request, u *store.User) error {
	name := r.PathValue("name")
	if err := s.cfg.Store.DeleteGatewayKey(r.Context(), name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("no gateway key %q", name)
		}
		return internal(err)
	}
	s.gateway.Forget()
	s.log.InfoContext(r.Context(), "gateway key removed", "gateway_key", name, "by", u.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// gatewayKey is the gateway's Config.Key: the key and its connection's stamp in one
// read of the store, and the process's client of the connection (built again, from
// the stored connection, when the stamp says it changed).
func (s *Server) gatewayKey(ctx context.Context, hash []byte) (store.GatewayKey, *gateway.Upstream, error) {
	k, stamp, err := s.cfg.Store.GatewayKeyConnection(ctx, hash)
	if err != nil {
		return k, nil, err
	}
	up, err := s.gatewayUpstreamOf(ctx, k, stamp)
	if err == nil {
		s.keyServers.Store(string(hash), up.Server)
	}
	return k, up, err
}

// gatewayKeyFor is the gateway's Config.KeyFor: gatewayKey reading with the key the
// stamp of the cached answer to kind and id in the cache of the server the key's
// connection had on its last request here (none on its first: then the answer's
// check reads it).
func (s *Server) gatewayKeyFor(ctx context.Context, hash []byte, kind ioc.Kind, id string) (context.Context, store.GatewayKey, *gateway.Upstream, error) {
	server, ok := s.keyServers.Load(string(hash))
	if !ok {
		k, up, err := s.gatewayKey(ctx, hash)
		return ctx, k, up, err
	}
	k, stamp, cs, err := s.cfg.Store.GatewayKeyCacheStamp(ctx, hash, server.(string), kind, id)
	if err != nil {
		return ctx, k, nil, err
	}
	up, err := s.gatewayUpstreamOf(ctx, k, stamp)
	if err != nil {
		return ctx, k, nil, err
	}
	if up.Server != server {
		s.keyServers.Store(string(hash), up.Server)
	}
	return cs.Context(ctx), k, up, nil
}

// gatewayUpstreamOf is the connection of k, whose stamp was read with it.
func (s *Server) gatewayUpstreamOf(ctx context.Context, k store.GatewayKey, stamp store.ConnectionStamp) (*gateway.Upstream, error) {
	if conn := s.conns.Current(stamp); conn != nil {
		return upstreamOf(conn), nil
	}
	c, err := s.cfg.Store.GetConnection(ctx, k.Connection)
	if err != nil {
		return nil, err
	}
	return s.gatewayUpstream(ctx, c)
}

// gatewayKeyNamed is the gateway's Config.KeyNamed.
func (s *Server) gatewayKeyNamed(ctx context.Context, name string) (store.GatewayKey, *gateway.Upstream, error) {
	k, err := s.cfg.Store.GetGatewayKey(ctx, name)
	if err != nil {
		return store.GatewayKey{}, nil, err
	}
	c, err := s.cfg.Store.GetConnection(ctx, k.Connection)
	if err != nil {
		return k, nil, err
	}
	up, err := s.gatewayUpstream(ctx, c)
	return k, up, err
}

// gatewayUpstream is a stored connection as the gateway forwards to it: the process's
// client of it (its limiter, HTTP client and cache), rebuilt when it changes.
func (s *Server) gatewayUpstream(ctx context.Context, c store.Connection) (*gateway.Upstream, error) {
	conn, err := s.conns.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	return upstreamOf(conn), nil
}

// upstreamOf is a connection's client as the gateway forwards to it.
func upstreamOf(conn *connclient.Conn) *gateway.Upstream {
	answers, behind := conn.AnswersBehind()
	return &gateway.Upstream{Connection: conn.Name, Server: conn.Client.ServerURL(), APIKey: conn.APIKey(),
		HTTP: conn.HTTPClient, Limiter: conn.Limiter, Cache: answers, StoredBehind: behind, Public: conn.PublicKey()}
}
