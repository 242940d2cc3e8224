package storecli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/cli/output"
)

// Print writes records on ios's output in format (cmdutil.Factory.OutputFormat): v (a
// slice) as JSON, JSON lines or YAML; headers and rows as a table, each cell
// output.Printable, or CSV, each cell an output.CSVCell.
func Print(ios *iostreams.IOStreams, format string, v any, headers []string, rows [][]string) error {
	w := ios.Out
	switch format {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "jsonl":
		rv := reflect.ValueOf(v)
		for i := 0; i < rv.Len(); i++ {
			b, err := json.Marshal(rv.Index(i).Interface())
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
				return err
			}
		}
		return nil
	case "yaml":
		// Through JSON, so that the keys are the JSON names.
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var n any
		if err := yaml.Unmarshal(b, &n); err != nil {
			return err
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(n); err != nil {
			return err
		}
		return enc.Close()
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(output.CSVRow(headers))
		for _, r := range rows {
			cw.Write(output.CSVRow(r))
		}
		cw.Flush()
		return cw.Error()
	default:
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(output.PrintableRow(headers), "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(output.PrintableRow(r), "\t"))
		}
		return tw.Flush()
	}
}

// FormatTime formats a time for a table (UTC, seconds), "-" when zero.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// OrDash returns s, or "-" when it is empty.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
