package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/vtsoar/vtsoar/internal/command"
)

// skipReasonColumn is the CSV column of the reason an input was skipped.
const skipReasonColumn = "skip_reason"

// SkippedLines writes one JSON line per skipped input that has no context entry of
// its own (what lookup's extraction left out of a text), after the streamed entries:
// {"input": ..., "status": "skipped", "type": ..., "reason": ..., "include": ...}. The
// others were streamed as entries.
func SkippedLines(w io.Writer, skipped []command.SkippedInput) error {
	for _, s := range skipped {
		if s.HasEntry() {
			continue
		}
		b, err := json.Marshal(struct {
			Input   string `json:"input"`
			Status  string `json:"status"`
			Type    string `json:"type,omitempty"`
			Value   string `json:"value,omitempty"`
			Reason  string `json:"reason"`
			Include string `json:"include,omitempty"`
		}{s.Input, command.StatusSkipped, s.Type, s.Value, s.Reason, s.Include})
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// skippedRows writes a CSV row per skipped input that has no context entry of its
// own: its input, status "skipped", its type, and the reason in the skip_reason
// column.
func skippedRows(cw *csv.Writer, skipped []command.SkippedInput, extraCols []string) error {
	for _, s := range skipped {
		if s.HasEntry() {
			continue
		}
		row := []string{s.Input, command.StatusSkipped, s.Type, "", "", "", "", ""}
		for _, k := range extraCols {
			v := ""
			if k == skipReasonColumn {
				v = s.Reason
			}
			row = append(row, v)
		}
		if err := cw.Write(CSVRow(row)); err != nil {
			return err
		}
	}
	return nil
}

// skippedFooter lists under a table the skipped inputs that have no row of their own
// (what lookup's extraction left out of a text), and says what looks the skipped
// ones up.
func skippedFooter(b *bytes.Buffer, skipped []command.SkippedInput) {
	if len(skipped) == 0 {
		return
	}
	var listed []command.SkippedInput
	flags := map[string]bool{}
	for _, s := range skipped {
		if !s.HasEntry() {
			listed = append(listed, s)
		}
		if s.Include != "" {
			flags["--"+strings.ReplaceAll(s.Include, "_", "-")] = true
		}
	}
	if len(listed) > 0 {
		fmt.Fprintf(b, "Not looked up (%d):\n", len(listed))
	}
	for _, s := range listed {
		fmt.Fprintf(b, "  %s: %s\n", truncate(Printable(s.Input), 72), Printable(s.Reason))
	}
	var list []string
	for _, f := range []string{"--include-private", "--include-benign"} {
		if flags[f] {
			list = append(list, f)
		}
	}
	if len(list) > 0 {
		fmt.Fprintf(b, "(%s to look them up)\n", strings.Join(list, " or "))
	}
}

// mixedTypes reports whether the entries are of more than one kind (lookup), so that
// the table shows each one's.
func mixedTypes(env *command.Envelope) bool {
	first := ""
	for _, e := range env.ContextData {
		if e.Type == "" {
			continue
		}
		if first == "" {
			first = e.Type
		} else if e.Type != first {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
