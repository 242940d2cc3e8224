package server_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/store"
)

// fileIDPattern matches the id of a stored file; widgetToken the token of a widget's
// URL, which changes every second.
var (
	fileIDPattern = regexp.MustCompile(`^f_[0-9a-f]{24}$`)
	widgetToken   = regexp.MustCompile(`/ui/widget/html/[^/]+$`)
)

// withoutFileIDs returns v (a decoded envelope) with the ids of stored files replaced
// by "f_" (two answers that keep files keep new ones each), and without the tokens of
// widgets' URLs.
func withoutFileIDs(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = withoutFileIDs(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withoutFileIDs(e)
		}
		return out
	case string:
		if fileIDPattern.MatchString(x) {
			return "f_"
		}
		return widgetToken.ReplaceAllString(x, "/ui/widget/html/TOKEN")
	}
	return v
}

// TestFileCommandsRunAsRuns: the commands that read or keep files of the file store
// run as runs too (202, then done) and end with the synchronous answer's envelope:
// download-file and retrieve-widget-html-content keep playbook files of the site
// asked for, named in key_fields.FileIDs and in their entries; detonate-files finds
// the uploaded files of the source asked for that the user's sites see, when the run
// works (a file of another source is "File ID Not Found.", as synchronously).
func TestFileCommandsRunAsRuns(t *testing.T) {
	const premiumKey = "premium-key-of-the-emulator-0123456789"
	e := newEnv(t, envOpts{enrich: true, premiumKeys: []string{premiumKey}})
	e.addConnection(t, "prem", e.sealKey(t, "prem", premiumKey), "premium")
	var artifact, playbook store.FileView
	e.upload(t, "paris", "dropper.js", []byte("var x = 'detonated in a run';"), map[string]string{"source": "Artifact File"}).json(t, &artifact)
	e.upload(t, "paris", "eicar.com", []byte("a playbook file of paris, detonated by another source"), map[string]string{"source": "playbook"}).json(t, &playbook)
	if artifact.Source != "artifact" || playbook.Source != "playbook" {
		t.Fatalf("uploads = %+v %+v", artifact, playbook)
	}

	for _, tc := range []struct {
		command, user string
		body          map[string]any
		// files counts the files the command keeps.
		files int
	}{
		{"download-file", "admin", map[string]any{"connection": "prem", "site": "paris",
			"inputs": []string{eicarMD5, strings.Repeat("0", 64)}}, 1},
		{"retrieve-widget-html-content", "paris", map[string]any{"connection": "emu", "inputs": []string{"8.8.8.8"}}, 1},
		{"detonate-files", "paris", map[string]any{"connection": "emu", "file_source": "Artifact File", "poll_interval": "10ms",
			"timeout": "20s", "inputs": []string{artifact.ID, playbook.ID}}, 0},
	} {
		t.Run(tc.command, func(t *testing.T) {
			path := "/api/v1/commands/" + tc.command
			r := e.doPrefer(t, path, tc.user, "respond-async", tc.body)
			if r.status != 202 {
				t.Fatalf("status = %d %s", r.status, r.body)
			}
			var run runJSON
			r.json(t, &run)
			done := e.waitRun(t, run.ID, tc.user, "done", "failed")
			if done.State != "done" {
				t.Fatalf("run = %+v", done)
			}
			sync := e.do(t, "POST", path, tc.user, tc.body)
			if sync.status != 200 {
				t.Fatalf("synchronous = %d %s", sync.status, sync.body)
			}
			got, want := withoutFileIDs(envelopeOf(t, done.Envelope)), withoutFileIDs(envelopeOf(t, sync.body))
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("run's envelope\n%s\nsynchronous\n%s", mustMarshal(got), mustMarshal(want))
			}

			var env command.Envelope
			if err := json.Unmarshal(done.Envelope, &env); err != nil {
				t.Fatal(err)
			}
			if tc.files == 0 {
				if env.ReturnData != command.PartiallySuccessful || env.ContextData[0].ID != artifact.SHA256 ||
					len(env.Errors) != 1 || env.Errors[0].Message != "File ID Not Found." {
					t.Fatalf("detonated = %s %+v %+v", env.ReturnData, env.ContextData, env.Errors)
				}
				return
			}
			kept := 0
			for _, id := range fileIDs(t, &env) {
				if id == "" {
					continue
				}
				kept++
				var f store.FileView
				if r := e.do(t, "GET", "/api/v1/files/"+id, "paris", nil); r.status != 200 {
					t.Fatalf("GET the run's file %s = %d %s", id, r.status, r.body)
				} else {
					r.json(t, &f)
				}
				if f.Source != "playbook" || f.Site != "paris" || f.Size == 0 {
					t.Fatalf("the run's file = %+v", f)
				}
			}
			if kept != tc.files {
				t.Fatalf("the run kept %d files, want %d: %+v", kept, tc.files, env.KeyFields)
			}
		})
	}
}
