package cmdutil

import "testing"

func TestSelfCommand(t *testing.T) {
	root := map[string]bool{"/src/vtsoar/cmd/vtsoar/main.go": true, "/src/vtsoar/go.mod": true}
	exists := func(p string) bool { return root[p] }
	for _, tc := range []struct{ exe, wd, want string }{
		// go run, from the module's root: run as it was.
		{"/tmp/go-build2726408157/b001/exe/vtsoar", "/src/vtsoar", "go run ./cmd/vtsoar"},
		{"/home/u/.cache/go-build/8f/8f3a-d/vtsoar", "/src/vtsoar", "go run ./cmd/vtsoar"},
		// go run from elsewhere: the executable itself, which lives while it runs.
		{"/tmp/go-build2726408157/b001/exe/vtsoar", "/src/vtsoar/internal", "/tmp/go-build2726408157/b001/exe/vtsoar"},
		// A built binary: its absolute path, quoted when it must be.
		{"/usr/local/bin/vtsoar", "/src/vtsoar", "/usr/local/bin/vtsoar"},
		{"/home/u/my tools/vtsoar", "/", `'/home/u/my tools/vtsoar'`},
		{"/home/u/it's/vtsoar", "/", `'/home/u/it'\''s/vtsoar'`},
		{"./vtsoar", "/src/vtsoar", "/src/vtsoar/vtsoar"},
	} {
		if got := selfCommand(tc.exe, tc.wd, exists); got != tc.want {
			t.Errorf("selfCommand(%q, %q) = %q, want %q", tc.exe, tc.wd, got, tc.want)
		}
	}
}
