package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/store"
)

// lookupData is the lookup page: the form, and the result once it ran.
type lookupData struct {
	Connections    []store.ConnectionView
	Connection     string
	Text           string
	Extract        bool
	IncludePrivate bool
	IncludeBenign  bool
	Fresh          bool
	Result         *lookupResult
}

type lookupResult struct {
	Env *command.Envelope
	// OK, Failed and Skipped count the entries (Skipped: not looked up).
	OK, Failed, Skipped int
	// Levels counts the entries per risk level, highest first, for the summary.
	Levels []levelCount
}

type levelCount struct {
	Level string
	N     int
}

func (c *Console) lookupData(r *http.Request, s *session, conn string) (*lookupData, error) {
	var list struct {
		Connections []store.ConnectionView `json:"connections"`
	}
	if err := c.call(r, s, "GET", "/api/v1/connections", nil, &list); err != nil {
		return nil, err
	}
	return &lookupData{Connections: list.Connections, Connection: conn, Extract: true}, nil
}

func (c *Console) lookupForm(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.lookupData(r, s, r.URL.Query().Get("connection"))
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "lookup", &view{Title: "Look up observables", Session: s, Data: d})
	return nil
}

// lookupBody reads the form into d and returns the API request it makes.
func lookupBody(r *http.Request, d *lookupData) map[string]any {
	pf := r.PostForm
	d.Text = pf.Get("text")
	d.Extract = pf.Get("mode") != "lines"
	d.IncludePrivate, d.IncludeBenign, d.Fresh = pf.Get("include_private") != "", pf.Get("include_benign") != "", pf.Get("fresh") != ""
	inputs := []string{d.Text}
	if !d.Extract {
		inputs = splitInputs(d.Text)
	}
	return map[string]any{"connection": d.Connection, "inputs": inputs, "extract": d.Extract,
		"include_private": d.IncludePrivate, "include_benign": d.IncludeBenign, "fresh": d.Fresh}
}

func (c *Console) lookup(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.lookupData(r, s, r.PostForm.Get("connection"))
	if err != nil {
		return err
	}
	body := lookupBody(r, d)
	v := &view{Title: "Look up observables", Session: s, Data: d}
	if len(body["inputs"].([]string)) == 0 || d.Text == "" {
		v.Error = "Paste a text or a list of observables first."
		c.render(w, r, http.StatusOK, "lookup", v)
		return nil
	}
	env, refused, err := c.runCommand(r, s, command.LookupCommand().Name, body)
	if err != nil {
		return err
	}
	if refused != "" {
		v.Error = "The lookup did not run: " + refused
		c.render(w, r, http.StatusOK, "lookup", v)
		return nil
	}
	res := &lookupResult{Env: env}
	count := map[string]int{}
	for _, e := range env.ContextData {
		switch e.Status {
		case command.StatusOK:
			res.OK++
		case command.StatusSkipped:
			res.Skipped++
			continue
		default:
			res.Failed++
		}
		count[e.RiskLevel]++
	}
	for _, l := range []string{"High", "Medium", "Low", "ZeroRisk", "N/A"} {
		if count[l] > 0 {
			res.Levels = append(res.Levels, levelCount{l, count[l]})
		}
	}
	d.Result = res
	c.render(w, r, http.StatusOK, "lookup", v)
	return nil
}

// lookupExport answers the lookup of the form as a download: a STIX 2.1 bundle or a
// MISP event. It runs the lookup again, from the cache (it never skips it).
func (c *Console) lookupExport(w http.ResponseWriter, r *http.Request, s *session) error {
	format := r.PostForm.Get("format")
	if format != "stix" && format != "misp" {
		return &apiError{Status: http.StatusBadRequest, Detail: fmt.Sprintf("there is no export format %q (stix or misp)", format)}
	}
	d := &lookupData{Connection: r.PostForm.Get("connection")}
	body := lookupBody(r, d)
	body["fresh"] = false
	data, err := c.callRaw(r, s, "POST", "/api/v1/commands/lookup?format="+format, body)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("vtsoar-lookup-%s.%s.json", time.Now().UTC().Format("20060102-150405"), format)
	ctype := "application/json"
	if format == "stix" {
		ctype = "application/stix+json;version=2.1"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(data)
	return nil
}

// callRaw is call for an answer that is passed on as it is.
func (c *Console) callRaw(r *http.Request, s *session, method, path string, body any) ([]byte, error) {
	var raw json.RawMessage
	if err := c.call(r, s, method, path, body, &raw); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
