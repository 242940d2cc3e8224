// Package output prints command envelopes as JSON, JSON lines, YAML, a table or CSV,
// and shows progress on a terminal.
package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/vtsoar/vtsoar/internal/command"
)

// JSON writes the envelope as indented JSON, raw_data as VirusTotal sent it
// (command.Envelope.WriteJSON).
func JSON(w io.Writer, env *command.Envelope) error {
	return env.WriteJSON(w, command.JSONFormat{Indent: true, EscapeHTML: true})
}

// JSONLine writes one context entry as a line of JSON.
func JSONLine(w io.Writer, e command.ContextEntry) error {
	b, err := e.MarshalJSON() // compact already: json.Marshal would only copy it again
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// YAML writes the envelope as YAML, keys in the JSON order.
func YAML(w io.Writer, env *command.Envelope) error {
	b, err := json.Marshal(env)
	if err != nil {
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return err
	}
	blockStyle(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	return enc.Close()
}

// blockStyle drops the flow style the JSON text gave the nodes.
func blockStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle
	for _, c := range n.Content {
		blockStyle(c)
	}
}

var fixedColumns = []string{"input", "status", "type", "id", "risk_level", "risk_level_code", "risk_reason", "error"}

// CSV writes one row per context entry: the fixed fields, then every command field
// (sorted); text is written as text, other values as JSON, each cell a CSVCell.
func CSV(w io.Writer, env *command.Envelope) error {
	extra := map[string]bool{}
	for _, e := range env.ContextData {
		command.EachField(e.Fields, func(k string, _ any) bool {
			extra[k] = true
			return true
		})
	}
	if len(env.Skipped) > 0 {
		extra[skipReasonColumn] = true
	}
	var extraCols []string
	for k := range extra {
		extraCols = append(extraCols, k)
	}
	sort.Strings(extraCols)
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVRow(append(append([]string{}, fixedColumns...), extraCols...))); err != nil {
		return err
	}
	for _, e := range env.ContextData {
		code := ""
		if e.RiskLevelCode != 0 {
			code = fmt.Sprint(e.RiskLevelCode)
		}
		row := []string{e.Input, e.Status, e.Type, e.ID, e.RiskLevel, code, e.RiskReason, e.Error}
		values := map[string]any{}
		command.EachField(e.Fields, func(k string, v any) bool {
			values[k] = v
			return true
		})
		if e.SkipReason != "" {
			values[skipReasonColumn] = e.SkipReason
		}
		for _, k := range extraCols {
			v, ok := values[k]
			row = append(row, cell(v, ok))
		}
		if err := cw.Write(CSVRow(row)); err != nil {
			return err
		}
	}
	if err := skippedRows(cw, env.Skipped, extraCols); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// cell is a command field as text: a string, or a value whose JSON is a string (a
// time, a typed string), as its text; a number or a boolean as written in JSON; any
// other value as JSON.
func cell(v any, present bool) string {
	if !present || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case bool, int, int64, float64:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			return s
		}
	}
	return string(b)
}

// Colors of risk levels on a terminal.
var levelColor = map[string]string{
	"High":     "\x1b[1;31m",
	"Medium":   "\x1b[33m",
	"Low":      "\x1b[36m",
	"N/A":      "\x1b[2m",
	"ZeroRisk": "\x1b[32m",
}

const reset = "\x1b[0m"

// Table writes a table for a person: one row per input with its status, risk level
// (coloured when color is set) and a summary, then the overall result. Every cell is
// Printable.
func Table(w io.Writer, env *command.Envelope, color bool) error {
	hasRisk := false
	for _, e := range env.ContextData {
		if e.RiskLevel != "" {
			hasRisk = true
		}
	}
	mixed := mixedTypes(env)
	header := []string{"INPUT", "STATUS"}
	if mixed {
		header = append(header, "TYPE")
	}
	riskCol := len(header)
	if hasRisk {
		header = append(header, "RISK")
	}
	header = append(header, "DETAILS")
	rows := [][]string{header}
	for _, e := range env.ContextData {
		row := []string{truncate(Printable(e.Input), 72), e.Status}
		if mixed {
			row = append(row, orDash(e.Type))
		}
		if hasRisk {
			row = append(row, e.RiskLevel)
		}
		row = append(row, summary(e))
		rows = append(rows, PrintableRow(row))
	}
	widths := make([]int, len(header))
	for _, r := range rows {
		for i, c := range r[:len(r)-1] {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b bytes.Buffer
	for ri, r := range rows {
		for i, c := range r {
			text := c
			if color && ri == 0 {
				text = "\x1b[1m" + c + reset
			} else if color && hasRisk && i == riskCol {
				if col, ok := levelColor[c]; ok {
					text = col + c + reset
				}
			} else if color && i == 1 && c == command.StatusError {
				text = "\x1b[31m" + c + reset
			}
			b.WriteString(text)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	failed, skipped := len(env.Errors), 0
	for _, e := range env.ContextData {
		if e.Status == command.StatusSkipped {
			skipped++
		}
	}
	sent := len(env.ContextData) - skipped
	fmt.Fprintf(&b, "\n%s: %d of %d inputs succeeded", env.ReturnData, sent-failed, sent)
	if skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped (nothing sent)", skipped)
	}
	if q := quotaLeft(env); q != "" {
		fmt.Fprintf(&b, "; quota left: %s", q)
	}
	b.WriteByte('\n')
	skippedFooter(&b, env.Skipped)
	_, err := w.Write(b.Bytes())
	return err
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// summary is the DETAILS column of a row: what the command's fields say.
func summary(e command.ContextEntry) string {
	switch e.Status {
	case command.StatusError:
		return e.Error
	case command.StatusSkipped:
		return "not sent: " + e.SkipReason
	}
	more := func(more bool) string {
		if more {
			return " (more: raise --limit)"
		}
		return ""
	}
	switch f := e.Fields.(type) {
	case *command.CommentFields:
		if f.PostedComment != nil {
			return "comment " + f.CommentID
		}
	case *command.VoteFields:
		if f.CastVote != nil {
			return "voted " + cell(f.Verdict, true) + " (vote " + f.VoteID + ")"
		}
	case *command.CommentsFields:
		if f.Comments != nil {
			return fmt.Sprintf("%d comments%s", f.Count, more(f.More))
		}
	case *command.VotesFields:
		if f.Votes != nil {
			return fmt.Sprintf("%d votes %s", f.Count, cell(f.VoteCounts, true))
		}
	case *command.DownloadFields:
		return fmt.Sprintf("%d bytes in %s", f.Size, f.Path)
	case *command.QuotasFields:
		return fmt.Sprintf("%d quotas", len(f.QuotaLeft))
	case *command.RelationshipFields:
		if f.Related != nil {
			return fmt.Sprintf("%d related via %s%s", f.Count, f.Relationship, more(f.More))
		}
	case *command.SearchFields:
		if f.SearchResults != nil {
			return fmt.Sprintf("%d results", f.Count)
		}
	case *command.WidgetFields:
		if f.Widget != nil {
			where := f.WidgetURL
			if f.WrittenFile != nil {
				where = f.Path
			}
			return fmt.Sprintf("%s detections; %s", f.DetectionRatio, where)
		}
	case *command.BehaviorFields:
		return fmt.Sprintf("verdicts %s, tags %s", cell(f.Verdicts, true), cell(f.Tags, true))
	case *command.UserFields:
		if e.ID != "" {
			return "connected as " + e.ID
		}
		return "connected"
	case *command.ObjectFields:
		if f.ReportSummary == nil && f.Stats == nil && f.AnalysisID != "" {
			return "analysis " + f.AnalysisID // asked for, not followed (no --wait)
		}
		s := e.RiskReason
		if f.Uploaded != nil && !*f.Uploaded && f.Known {
			s = "already known, not uploaded; " + s
		}
		if f.ReportSummary != nil && f.Cached {
			s += " (cached)"
		}
		return s
	}
	return e.RiskReason
}

// quotaLeft formats what is left of a key's request quotas, from test-connection's or
// get-quotas' entry: "hourly 96, daily 496, monthly 15496".
func quotaLeft(env *command.Envelope) string {
	var m map[string]int64
	for _, e := range env.ContextData {
		switch f := e.Fields.(type) {
		case *command.UserFields:
			m = f.QuotaLeft
		case *command.QuotasFields:
			m = f.QuotaLeft
		}
	}
	var parts []string
	for _, w := range []string{"hourly", "daily", "monthly"} {
		if n, ok := m["api_requests_"+w]; ok {
			parts = append(parts, fmt.Sprintf("%s %d", w, n))
		}
	}
	return strings.Join(parts, ", ")
}
