package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/cli"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/command"
)

// `vtsoar --help` lists the integration commands in the registry's order (that of
// DESIGN.md), then the other commands in theirs.
func TestHelpListsTheCommandsInOrder(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	if code := cli.Main(context.Background(), []string{"--help"}, ios); code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	groups := map[string][]string{}
	group := ""
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasSuffix(line, "commands:"):
			group = line
		case line == "":
			group = ""
		case group != "" && strings.HasPrefix(line, "  "):
			groups[group] = append(groups[group], strings.Fields(line)[0])
		}
	}
	var integration []string
	for _, c := range command.All() {
		integration = append(integration, c.Name)
	}
	if got, want := strings.Join(groups["Integration commands:"], " "), strings.Join(integration, " "); got != want {
		t.Errorf("integration commands:\n got %s\nwant %s", got, want)
	}
	const others = "version connection quota cache serve demo user gateway-key emulate help completion"
	if got := strings.Join(groups["Other commands:"], " "); got != others {
		t.Errorf("other commands:\n got %s\nwant %s", got, others)
	}
}
