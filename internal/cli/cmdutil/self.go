package cmdutil

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// SelfCommand returns how to run this program again from the shell that started it,
// for the commands a banner or a hint prints: "go run ./cmd/vtsoar" when `go run`
// built it (its executable lies in one of the go command's "go-build" folders) and
// the working directory is the module's root, else the executable's absolute path,
// quoted for a POSIX shell where it needs to be. "vtsoar" alone would run only when a
// vtsoar is on PATH, and maybe another one.
func SelfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	wd, _ := os.Getwd()
	return selfCommand(exe, wd, func(p string) bool {
		_, err := os.Stat(p)
		return err == nil
	})
}

// goRunMain is the main package, relative to the module's root, that `go run` builds.
const goRunMain = "./cmd/vtsoar"

// selfCommand is SelfCommand for the executable exe run in the directory wd; exists
// reports whether a file exists.
func selfCommand(exe, wd string, exists func(string) bool) string {
	if builtByGoRun(exe) && wd != "" && exists(filepath.Join(wd, goRunMain, "main.go")) && exists(filepath.Join(wd, "go.mod")) {
		return "go run " + goRunMain
	}
	if !filepath.IsAbs(exe) && wd != "" {
		exe = filepath.Join(wd, exe)
	}
	return ShellQuote(exe)
}

// builtByGoRun reports whether the executable at path was built by `go run`: it is in
// a temporary "go-buildNNN" folder or in the build cache's "go-build".
func builtByGoRun(path string) bool {
	for _, part := range strings.Split(filepath.ToSlash(path), "/") {
		if strings.HasPrefix(part, "go-build") {
			return true
		}
	}
	return false
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./@%+=:,-]+$`)

// ShellQuote returns s as one word of a POSIX shell: as it is when it holds only
// characters no shell reads specially, else single-quoted.
func ShellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
