package vtsim

// The metadata endpoint: the engines, and the relationships of each collection.

import (
	"net/http"

	"github.com/vtsoar/vtsoar/vt"
)

func (s *Server) metadata(w http.ResponseWriter, r *http.Request, c *call) {
	engines := map[string]any{}
	for _, e := range fileEngines {
		engines[e.name] = map[string]any{"engine_version": e.version, "category": "file"}
	}
	for _, e := range networkEngines {
		if _, dup := engines[e.name]; dup {
			engines[e.name].(map[string]any)["category"] = "file,url"
			continue
		}
		engines[e.name] = map[string]any{"category": "url"}
	}
	// The relationships of each object type, from vt's table, as VirusTotal lists
	// them: {"file": [{"name": ..., "description": ...}], ...}.
	rels := map[string]any{}
	for _, rl := range vt.Relationships() {
		col := rl.Collection.ObjectType()
		list, _ := rels[col].([]any)
		desc := rl.Description
		switch {
		case rl.Premium():
			desc += " (VT Enterprise users only)"
		case rl.Deprecated:
			desc += " (deprecated)"
		}
		rels[col] = append(list, map[string]any{"name": rl.Name, "description": desc})
	}
	privileges := []any{"public"}
	if c.premium {
		privileges = append(privileges, "intelligence", "private")
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"engines": engines, "relationships": rels, "privileges": privileges,
	}})
}
