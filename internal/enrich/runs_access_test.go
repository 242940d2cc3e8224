package enrich_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vtsim"
)

// TestRunWhoseUserLostAccessEnds: a run is checked again each time a job takes it up
// (as after a restart, on any replica): the run of a user removed, of a user taken off
// its connection's users, or of a user who no longer belongs to the site of the files
// it keeps, ends failed saying why, and nothing is sent to VirusTotal for it; the run
// of a user who kept access is done.
func TestRunWhoseUserLostAccessEnds(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend, vtsim.Options{})
		ctx := context.Background()
		e.addConn("emu", "emu-key", nil, nil, 0)
		e.addConn("team", "team-key", nil, nil, 0)
		team, err := e.st.GetConnection(ctx, "team")
		if err != nil {
			t.Fatal(err)
		}
		team.Users = []string{"revoked", "kept"}
		if err := e.st.UpdateConnection(ctx, team); err != nil {
			t.Fatal(err)
		}
		for i, name := range []string{"gone", "revoked", "moved", "kept"} {
			if err := e.st.CreateUser(ctx, store.User{Name: name, Role: store.RoleAnalyst, Sites: []string{"paris"},
				TokenHash: []byte{byte(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		files, err := store.NewFileStore(filepath.Join(t.TempDir(), store.FilesDir), e.st)
		if err != nil {
			t.Fatal(err)
		}
		// The service is made, its runs submitted, and only then started: what
		// changes meanwhile is what a run taken up again after a restart meets.
		s, err := enrich.New(ctx, e.st, enrich.Options{Cipher: e.cipher, FetchPollInterval: 50 * time.Millisecond, Files: files})
		if err != nil {
			t.Fatal(err)
		}
		submit := func(user, conn, cmd, site, input string) string {
			t.Helper()
			p, err := command.Prepare(command.Request{Command: cmd, Inputs: []string{input}})
			if err != nil {
				t.Fatal(err)
			}
			run, err := s.SubmitRun(ctx, enrich.NewRun{User: user, Connection: conn, Prepared: p, Site: site})
			if err != nil {
				t.Fatal(err)
			}
			return run.ID
		}
		gone := submit("gone", "emu", "check-ip-reputation", "", "1.1.1.1")
		revoked := submit("revoked", "team", "check-ip-reputation", "", "1.1.1.2")
		moved := submit("moved", "emu", "retrieve-widget-html-content", "paris", "1.1.1.3")
		kept := submit("kept", "team", "check-ip-reputation", "", "8.8.8.8")

		if err := e.st.DeleteUser(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		team.Users = []string{"kept"}
		if err := e.st.UpdateConnection(ctx, team); err != nil {
			t.Fatal(err)
		}
		if err := e.st.DeleteUser(ctx, "moved"); err != nil {
			t.Fatal(err)
		}
		if err := e.st.CreateUser(ctx, store.User{Name: "moved", Role: store.RoleAnalyst, Sites: []string{"lyon"},
			TokenHash: []byte{9}}); err != nil {
			t.Fatal(err)
		}

		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Stop(sctx)
		})
		for _, tc := range []struct{ id, state, why string }{
			{gone, store.RunFailed, "the user gone was removed"},
			{revoked, store.RunFailed, "user revoked may not use connection team"},
			{moved, store.RunFailed, `user moved does not belong to site "paris"`},
			{kept, store.RunDone, ""},
		} {
			run, err := s.WaitRun(ctx, tc.id, time.Now().Add(20*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if run.State != tc.state || !strings.Contains(run.Error, tc.why) || (tc.why == "" && run.Error != "") {
				t.Errorf("run of %s = %s %q, want %s %q", run.User, run.State, run.Error, tc.state, tc.why)
			}
		}
		paths := e.count.paths()
		for _, ip := range []string{"1.1.1.1", "1.1.1.2", "1.1.1.3"} {
			for p, n := range paths {
				if strings.Contains(p, ip) {
					t.Errorf("%d requests for %s (%s), of a run whose user lost access", n, ip, p)
				}
			}
		}
		if e.count.key("team-key") != 1 || e.count.key("emu-key") != 0 {
			t.Errorf("requests: %v, want one of the run that kept access", paths)
		}
	})
}
