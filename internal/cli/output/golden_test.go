package output

import (
	"bytes"
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/command/commandtest"
)

var update = flag.Bool("update", false, "write testdata/outputs.golden")

// Every command's envelope (commandtest.Envelopes) is written as a table, CSV, YAML
// and JSON lines as testdata/outputs.golden holds it, byte for byte; STIX and MISP
// too where the command's results are exportable. `go test -run TestOutputsGolden
// -update` writes it.
func TestOutputsGolden(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, r := range commandtest.Envelopes(t) {
		env := r.Envelope
		var b bytes.Buffer
		fmt.Fprintf(&b, "== %s table\n", env.Command)
		if err := Table(&b, env, false); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "== %s csv\n", env.Command)
		if err := CSV(&b, env); err != nil {
			t.Fatal(err)
		}
		// YAML without raw_data: VirusTotal's answers are written as they came.
		fmt.Fprintf(&b, "== %s yaml (raw_data left out)\n", env.Command)
		noRaw := *env
		noRaw.RawData = nil
		if err := YAML(&b, &noRaw); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "== %s jsonl\n", env.Command)
		for _, e := range env.ContextData {
			if err := JSONLine(&b, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := SkippedLines(&b, env.Skipped); err != nil {
			t.Fatal(err)
		}
		if c, _ := env.Source(); c.Exportable {
			fmt.Fprintf(&b, "== %s stix\n", env.Command)
			if err := STIX(&b, env, now); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "== %s misp\n", env.Command)
			if err := MISP(&b, env, now); err != nil {
				t.Fatal(err)
			}
		}
		out.WriteString(r.Stable.Replace(b.String()))
	}
	commandtest.Golden(t, filepath.Join("testdata", "outputs.golden"), out.Bytes(), *update)
}
