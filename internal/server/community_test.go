package server_test

import (
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/command"
)

func TestCommandsCommunityOverREST(t *testing.T) {
	e := newEnv(t, envOpts{})
	var env command.Envelope
	r := e.do(t, "POST", "/api/v1/commands/add-comment", "paris", map[string]any{"inputs": []string{eicarMD5, "not one"}, "comment": "seen in #INC-1"})
	r.json(t, &env)
	if c, ok := env.ContextData[0].Fields.(*command.CommentFields); r.status != 200 || env.ReturnData != command.PartiallySuccessful ||
		!ok || c.PostedComment == nil || c.CommentID == "" ||
		env.Errors[0].FailureIndicator != "Add Comment failed." {
		t.Fatalf("add-comment %d: %s", r.status, r.body)
	}
	env = command.Envelope{}
	r = e.do(t, "POST", "/api/v1/commands/get-comments", "paris", map[string]any{"inputs": []string{eicarMD5}, "limit": 3})
	r.json(t, &env)
	if cs, ok := env.ContextData[0].Fields.(*command.CommentsFields); !ok || cs.Comments == nil || len(cs.Comments.Comments) == 0 ||
		!strings.Contains(string(r.body), "seen in #INC-1") {
		t.Errorf("get-comments: %s", r.body)
	}
	env = command.Envelope{}
	r = e.do(t, "POST", "/api/v1/commands/add-vote", "paris", map[string]any{"inputs": []string{"8.8.8.8"}, "verdict": "harmless"})
	r.json(t, &env)
	if v, ok := env.ContextData[0].Fields.(*command.VoteFields); env.ReturnData != command.Successful || !ok || v.CastVote == nil ||
		v.Verdict != "harmless" {
		t.Errorf("add-vote: %s", r.body)
	}
	env = command.Envelope{}
	r = e.do(t, "POST", "/api/v1/commands/get-quotas", "paris", map[string]any{})
	r.json(t, &env)
	if env.ReturnData != command.Successful || env.KeyFields["QuotaLeft"] == nil {
		t.Errorf("get-quotas: %s", r.body)
	}
	for _, tc := range []struct {
		command string
		body    map[string]any
		detail  string
	}{
		{"add-vote", map[string]any{"inputs": []string{"8.8.8.8"}, "verdict": "meh"}, "harmless or malicious"},
		{"add-comment", map[string]any{"inputs": []string{"8.8.8.8"}}, "comment"},
		{"download-file", map[string]any{"inputs": []string{eicarMD5}, "out_dir": "/tmp"}, "out_dir is not available over REST"},
	} {
		if p := e.do(t, "POST", "/api/v1/commands/"+tc.command, "paris", tc.body).problem(t, 400); !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("%s: %s", tc.command, p.Detail)
		}
	}
}
