package console

// The command runner page: any integration command on a connection, its envelope in
// the Return Data, Key Fields, Context Data, Raw Data and Errors tabs.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/store"
)

type runData struct {
	Commands    []*command.Command
	Command     *command.Command
	Connections []store.ConnectionView
	Connection  string
	// Summary is the command's description in REST's words, the console's.
	Summary string
	// Options are the command's options, then the run's, as the form shows them.
	Options []formField
	Inputs  string
	Result  *runResult
}

type runResult struct {
	Env *command.Envelope
	// Widgets are the widget pages of context entries that carry HTML, by position.
	Widgets map[int]string
	// OK, Failed and Skipped count the inputs (Skipped: nothing sent).
	OK, Failed, Skipped int
}

func (c *Console) runData(r *http.Request, s *session, name, conn string) (*runData, error) {
	d := &runData{Commands: command.All(), Connection: conn}
	cmd := d.Commands[0]
	if name != "" {
		var ok bool
		if cmd, ok = command.Lookup(name); !ok {
			return nil, &apiError{Status: http.StatusNotFound, Detail: fmt.Sprintf("there is no command %q", name)}
		}
	}
	d.Command, d.Summary = cmd, cmd.Summary(command.REST)
	run := command.RunOptions{Concurrency: command.DefaultConcurrency, MaxAge: command.DefaultMaxAge}
	d.Options = append(formFields(cmd.NewOptions().Fields(), ""), formFields(run.Fields(), "")...)
	var list struct {
		Connections []store.ConnectionView `json:"connections"`
	}
	if err := c.call(r, s, "GET", "/api/v1/connections", nil, &list); err != nil {
		return nil, err
	}
	d.Connections = list.Connections
	return d, nil
}

func (c *Console) runForm(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	d, err := c.runData(r, s, q.Get("command"), q.Get("connection"))
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "run", &view{Title: "Run a command", Session: s, Data: d})
	return nil
}

// splitInputs reads one input per line, skipping blank lines and # comments.
func splitInputs(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

func (c *Console) run(w http.ResponseWriter, r *http.Request, s *session) error {
	pf := r.PostForm
	d, err := c.runData(r, s, pf.Get("command"), pf.Get("connection"))
	if err != nil {
		return err
	}
	d.Inputs = pf.Get("inputs")
	v := &view{Title: "Run a command", Session: s, Data: d}
	body := readForm(d.Options, pf)
	body["connection"], body["inputs"] = d.Connection, splitInputs(d.Inputs)
	if d.Command.NoInputs {
		body["inputs"] = []string{}
	}
	env, refused, err := c.runCommand(r, s, d.Command.Name, body)
	if err != nil {
		return err
	}
	if refused != "" {
		v.Error = "The command did not run: " + refused
		c.render(w, r, http.StatusOK, "run", v)
		return nil
	}
	d.Result = c.runResult(env)
	c.render(w, r, http.StatusOK, "run", v)
	return nil
}

// runResult is what the envelope's tabs show of env.
func (c *Console) runResult(env *command.Envelope) *runResult {
	res := &runResult{Env: env, Widgets: map[int]string{}}
	for i, ce := range env.ContextData {
		switch ce.Status {
		case command.StatusOK:
			res.OK++
		case command.StatusSkipped:
			res.Skipped++
		default:
			res.Failed++
		}
		if w, ok := ce.Fields.(*command.WidgetFields); ok && w.HTML != nil && *w.HTML != "" {
			res.Widgets[i] = c.widgets.put(*w.HTML)
		}
	}
	return res
}

// runCommand runs a command through the API. The API's refusal of the request (not
// of the sign-in, which ends the session) is no error of the page: its detail is
// returned, for the page to show.
func (c *Console) runCommand(r *http.Request, s *session, name string, body map[string]any) (env *command.Envelope, refused string, err error) {
	env = &command.Envelope{}
	if err := c.call(r, s, "POST", "/api/v1/commands/"+name, body, env); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status == http.StatusUnauthorized {
			return nil, "", err
		}
		if ae.Detail == "" {
			return nil, http.StatusText(ae.Status), nil
		}
		return nil, ae.Detail, nil
	}
	return env, "", nil
}
