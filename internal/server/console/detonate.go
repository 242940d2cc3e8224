package console

// The detonate page: D3's Detonate Files, its File IDs picked from a file source
// (incident attachments, playbook files, artifact files) or a file uploaded there and
// then, run on a connection, its envelope shown as the command runner shows it.

import (
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/store"
)

type detonateData struct {
	Command *command.Command
	// Summary is the command's description in REST's words.
	Summary     string
	Connections []store.ConnectionView
	Connection  string
	// Sources are the file sources with the integration's labels; Source the one
	// chosen, whose files are Files.
	Sources []command.Choice
	Source  string
	Files   []store.FileView
	// Picked are the ids of the files ticked.
	Picked []string
	// Options are the command's options as the form shows them.
	Options []formField
	siteChoice
	Result *runResult
}

// filesCommand returns the command that takes files (detonate-files).
func filesCommand() *command.Command {
	for _, c := range command.All() {
		if c.TakesFiles {
			return c
		}
	}
	return nil
}

func (c *Console) detonateData(r *http.Request, s *session, source, conn string, picked []string) (*detonateData, error) {
	cmd := filesCommand()
	if cmd == nil {
		return nil, errors.New("no command takes files")
	}
	d := &detonateData{Command: cmd, Summary: cmd.Summary(command.REST), Connection: conn, Picked: picked,
		Options: formFields(cmd.NewOptions().Fields(), ""), siteChoice: siteChoiceOf(s)}
	for _, src := range store.FileSources() {
		d.Sources = append(d.Sources, command.Choice{Value: src, Label: store.FileSourceLabel(src)})
	}
	d.Source = d.Sources[0].Value
	if source != "" {
		src, err := store.ParseFileSource(source)
		if err != nil {
			return nil, &apiError{Status: http.StatusBadRequest, Detail: err.Error()}
		}
		d.Source = src
	}
	var list struct {
		Connections []store.ConnectionView `json:"connections"`
	}
	if err := c.call(r, s, "GET", "/api/v1/connections", nil, &list); err != nil {
		return nil, err
	}
	d.Connections = list.Connections
	var files struct {
		Files []store.FileView `json:"files"`
	}
	if err := c.call(r, s, "GET", "/api/v1/files?limit=100&source="+url.QueryEscape(d.Source), nil, &files); err != nil {
		return nil, err
	}
	d.Files = files.Files
	return d, nil
}

func (c *Console) detonateForm(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	d, err := c.detonateData(r, s, q.Get("source"), q.Get("connection"), q["file"])
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "detonate", &view{Title: "Detonate files", Session: s, Data: d})
	return nil
}

// detonate runs the files picked, and the one uploaded (kept first with the chosen
// source), through the API.
func (c *Console) detonate(w http.ResponseWriter, r *http.Request, s *session, mr *multipart.Reader) error {
	vals, file, err := formValues(mr, "file")
	if err != nil {
		return &apiError{Status: http.StatusBadRequest, Detail: "The form could not be read: " + err.Error()}
	}
	d, err := c.detonateData(r, s, vals.Get("source"), vals.Get("connection"), vals["file_id"])
	if err != nil {
		return err
	}
	v := &view{Title: "Detonate files", Session: s, Data: d}
	show := func(msg string) error {
		v.Error = msg
		c.render(w, r, http.StatusOK, "detonate", v)
		return nil
	}
	inputs := slices.Clone(d.Picked)
	if file != nil {
		var up store.FileView
		fields := [][2]string{{"source", d.Source}}
		if site := strings.TrimSpace(vals.Get("site")); site != "" {
			fields = append(fields, [2]string{"site", site})
		}
		err := c.sendFile(r, s, "/api/v1/files", fields, file.FileName(), file, &up)
		if ae := (*apiError)(nil); errors.As(err, &ae) && ae.Status != http.StatusUnauthorized {
			return show("The file was not uploaded: " + ae.Detail)
		}
		if err != nil {
			return err
		}
		inputs = append(inputs, up.ID)
		d.Picked = append(d.Picked, up.ID)
		// The list shows the new file, ticked.
		if d2, err := c.detonateData(r, s, d.Source, d.Connection, d.Picked); err == nil {
			d2.Options = d.Options
			*d = *d2
		}
	}
	if len(inputs) == 0 {
		return show(fmt.Sprintf("Tick at least one %s, or upload a file.", strings.ToLower(store.FileSourceLabel(d.Source))))
	}
	body := readForm(d.Options, vals)
	body["connection"], body["inputs"], body["file_source"] = d.Connection, inputs, d.Source
	env, refused, err := c.runCommand(r, s, d.Command.Name, body)
	if err != nil {
		return err
	}
	if refused != "" {
		return show("The command did not run: " + refused)
	}
	d.Result = c.runResult(env)
	c.render(w, r, http.StatusOK, "detonate", v)
	return nil
}
