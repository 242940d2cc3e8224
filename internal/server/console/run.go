package console

// The command runner page: any integration command on a connection, its envelope in
// the Return Data, Key Fields, Context Data, Raw Data and Errors tabs.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/store"
)

type runData struct {
	// Runs are the user's recent runs.
	Runs        []runView
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
	// Partial says the result is of the inputs done so far, of a run that goes on.
	Partial bool
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
	var runs struct {
		Runs []runView `json:"runs"`
	}
	if err := c.call(r, s, "GET", "/api/v1/runs?limit=10", nil, &runs); err == nil {
		d.Runs = runs.Runs
	} else if ae := (*apiError)(nil); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		return nil, err
	}
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
	if d.Command.TakesFiles || d.Command.WritesFiles {
		// Its files are the file store's: it runs only synchronously.
		env, refused, err := c.runCommand(r, s, d.Command.Name, body)
		if err != nil {
			return err
		}
		if refused != "" {
			v.Error = "The command did not run: " + refused
		} else {
			d.Result = c.runResult(env)
		}
		c.render(w, r, http.StatusOK, "run", v)
		return nil
	}
	run, status, refused, err := c.submitCommand(r, s, d.Command.Name, body)
	if err != nil {
		return err
	}
	if refused != "" {
		v.Error = "The command did not run: " + refused
		c.render(w, r, http.StatusOK, "run", v)
		return nil
	}
	if status != http.StatusOK {
		// Not over within the console's wait: the run's page follows it.
		http.Redirect(w, r, "/runs/"+url.PathEscape(run.ID), http.StatusSeeOther)
		return nil
	}
	d.Result = c.runResult(run.Envelope)
	c.render(w, r, http.StatusOK, "run", v)
	return nil
}

// runView is a run as the API answers it.
type runView struct {
	ID          string            `json:"id"`
	Command     string            `json:"command"`
	Connection  string            `json:"connection"`
	State       string            `json:"state"`
	InputsTotal int               `json:"inputs_total"`
	InputsDone  int               `json:"inputs_done"`
	ResumesAt   *time.Time        `json:"resumes_at"`
	CreatedAt   time.Time         `json:"created_at"`
	FinishedAt  *time.Time        `json:"finished_at"`
	Error       string            `json:"error"`
	Envelope    *command.Envelope `json:"envelope"`
}

type runPageData struct {
	Run    runView
	Final  bool
	Result *runResult
}

// runPage follows a run: its state, the budget's wait, its progress and the result
// tabs of the inputs done so far; the page refreshes itself until the run is over.
func (c *Console) runPage(w http.ResponseWriter, r *http.Request, s *session) error {
	var run runView
	if err := c.call(r, s, "GET", "/api/v1/runs/"+url.PathEscape(r.PathValue("id")), nil, &run); err != nil {
		return err
	}
	d := &runPageData{Run: run, Final: store.FinalRunState(run.State)}
	if run.Envelope != nil {
		d.Result = c.runResult(run.Envelope)
		d.Result.Partial = run.InputsDone < run.InputsTotal
	}
	c.render(w, r, http.StatusOK, "runview", &view{Title: "Run " + run.ID, Nav: "run", Session: s, Data: d})
	return nil
}

// cancelRun cancels a run and shows it.
func (c *Console) cancelRun(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	if err := c.call(r, s, "DELETE", "/api/v1/runs/"+url.PathEscape(id), nil, nil); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
			return err
		}
	}
	http.Redirect(w, r, "/runs/"+url.PathEscape(id), http.StatusSeeOther)
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
		refused, err := refusal(err)
		return nil, refused, err
	}
	return env, "", nil
}

// runWait is how long the console waits for a command's run to be over before it
// shows the run's page instead.
const runWait = "5"

// submitCommand runs a command through the API as a run (Prefer: respond-async),
// waiting runWait seconds for it: the run, and the API's status (200 when it is over,
// 202 when not). A refusal is returned as runCommand's.
func (c *Console) submitCommand(r *http.Request, s *session, name string, body map[string]any) (run *runView, status int, refused string, err error) {
	run = &runView{}
	status, err = c.callJSON(r, s, "POST", "/api/v1/commands/"+name,
		http.Header{"Prefer": {"respond-async, wait=" + runWait}}, body, run)
	if err != nil {
		refused, err := refusal(err)
		return nil, 0, refused, err
	}
	return run, status, "", nil
}

// refusal is the API's refusal of a request, in its words, for the page to show; an
// error of another kind (the sign-in refused, which ends the session) is returned.
func refusal(err error) (string, error) {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status == http.StatusUnauthorized {
		return "", err
	}
	if ae.Detail == "" {
		return http.StatusText(ae.Status), nil
	}
	return ae.Detail, nil
}
