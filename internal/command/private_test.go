package command

import (
	"testing"

	"github.com/vtsoar/vtsoar/vtsim"
)

// Private inputs are skipped by every command that takes observables, in place, with
// no request; the run's include_private or the connection's (Deps) sends them.
func TestPrivateSkippedUnlessIncluded(t *testing.T) {
	e := newEnv(t, vtsim.Options{})
	in := []string{"127.0.0.1", "10.1.2.3", "8.8.8.8"}
	env := e.run(t, Request{Command: "check-ip-reputation", Inputs: in})
	if n := e.requests(""); n != 1 || len(env.ContextData) != 3 || len(env.Skipped) != 2 || env.ReturnData != Successful ||
		env.ContextData[0].Status != StatusSkipped || env.ContextData[1].Status != StatusSkipped || env.ContextData[2].Status != StatusOK {
		t.Fatalf("%d requests, envelope %s", n, mustJSON(t, env))
	}
	e.reset()
	e.run(t, Request{Command: "check-ip-reputation", Inputs: in, Run: RunOptions{IncludePrivate: true, Fresh: true}})
	if n := e.requests(""); n != 3 {
		t.Errorf("include_private: %d requests", n)
	}
	e.reset()
	d := e.deps
	e.deps.IncludePrivate = true // the connection's include_private
	e.run(t, Request{Command: "check-ip-reputation", Inputs: in, Run: RunOptions{Fresh: true}})
	e.deps = d
	if n := e.requests(""); n != 3 {
		t.Errorf("the connection's include_private: %d requests", n)
	}
	e.reset()
	for _, req := range []Request{
		{Command: "search", Inputs: []string{"10.1.2.3"}},
		withOptions(t, "get-url-relationships", []string{"http://192.168.1.1/admin"}, map[string]any{"relationship": "network_location"}),
		{Command: "retrieve-widget-html-content", Inputs: []string{"printer.local"}, Options: &WidgetOptions{OutDir: t.TempDir()}},
		{Command: "get-comments", Inputs: []string{"fe80::1"}},
		{Command: "scan-url", Inputs: []string{"http://intranet.corp/login"}},
	} {
		env := e.run(t, req)
		if len(env.ContextData) != 1 || env.ContextData[0].Status != StatusSkipped || env.ContextData[0].SkipReason == "" || env.ReturnData != Successful {
			t.Errorf("%s: %s", req.Command, mustJSON(t, env))
		}
	}
	if n := e.requests(""); n != 0 {
		t.Errorf("%d requests for private inputs", n)
	}
	// A hash is never private: search by a hash is sent.
	e.run(t, Request{Command: "search", Inputs: []string{"44d88612fea8a8f36de82e1278abb02f"}})
	if n := e.requests(""); n != 1 {
		t.Errorf("search by hash: %d requests", n)
	}
}
