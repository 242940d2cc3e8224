package command_test

import (
	"bytes"
	"flag"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/command/commandtest"
)

var update = flag.Bool("update", false, "write the golden files from the commands' answers")

// Every command's envelope (commandtest.Envelopes) is what testdata/envelopes.golden
// holds, byte for byte in -o json's layout: its context entries (each field, its type
// and whether it is there), key fields, raw data and errors, through the paths that
// succeed and those that fail. `go test -run TestEnvelopesGolden -update` writes it.
func TestEnvelopesGolden(t *testing.T) {
	var out bytes.Buffer
	for _, r := range commandtest.Envelopes(t) {
		var b bytes.Buffer
		if err := r.Envelope.WriteJSON(&b, command.JSONFormat{Indent: true, EscapeHTML: true}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "== %s\n%s", r.Envelope.Command, r.Stable.Replace(b.String()))
	}
	commandtest.Golden(t, filepath.Join("testdata", "envelopes.golden"), out.Bytes(), *update)
}
