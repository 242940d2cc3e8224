package cmdutil

import (
	"os"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
)

func TestReadInputs(t *testing.T) {
	stdin := "# incident 42\n\n  44d88612fea8a8f36de82e1278abb02f  \n\t\n8.8.8.8\n# done\n"
	got, err := ReadInputs([]string{"a", "-", "b", "-"}, strings.NewReader(stdin))
	if err != nil {
		t.Fatal(err)
	}
	want := "a,44d88612fea8a8f36de82e1278abb02f,8.8.8.8,b"
	if strings.Join(got, ",") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestOutputDefaultAndChecks(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := New(ios, "test")
	f.Getenv = func(string) string { return "" }
	f.Options.Run.Concurrency = 4
	if f.OutputFormat() != "json" {
		t.Errorf("off a terminal: %s, want json", f.OutputFormat())
	}
	ios.SetStdoutTTY(true)
	if f.OutputFormat() != "table" {
		t.Errorf("on a terminal: %s, want table", f.OutputFormat())
	}
	f.Options.Output = "xml"
	if err := f.CheckGlobal(); !IsUsage(err) {
		t.Errorf("-o xml: %v", err)
	}
	f.Options.Output = ""
	f.Getenv = func(k string) string {
		if k == "VT_API_VERSION" {
			return "v2"
		}
		return ""
	}
	if err := f.CheckGlobal(); !IsUsage(err) || !strings.Contains(err.Error(), "v3") {
		t.Errorf("VT_API_VERSION=v2: %v", err)
	}
}

// TestRetriesHelpIsDesigns: the help of --retries, made from the statuses the client
// retries, is what DESIGN.md's table of global flags says.
func TestRetriesHelpIsDesigns(t *testing.T) {
	b, err := os.ReadFile("../../../docs/DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `--retries` |") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if got, want := RetriesUsage(), cells[len(cells)-1]; got != want {
			t.Errorf("--retries help:\n  %s\nDESIGN.md:\n  %s", got, want)
		}
		return
	}
	t.Fatal("DESIGN.md has no row for --retries")
}
