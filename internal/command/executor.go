package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// Failure is why one input failed, before it is tied to its input.
type Failure struct {
	StatusCode int
	Code       string
	Message    string
}

// task is one unit of work: the inputs that share its key share its execution.
type task struct {
	// key de-duplicates: inputs with one key are answered by one execution. Empty
	// means the input is never shared.
	key string
	// tier orders execution: a task of tier n starts once every task of a lower tier
	// has finished, so that what they learnt (the md5 and sha1 of a file fetched by
	// sha256) can answer it.
	tier int
	obs  ioc.Observable
	// text is the query (search, widget) or the path (detonate-files).
	text string
}

// outcome is what executing a task produced.
type outcome struct {
	entry ContextEntry // Input and Status are filled in per input
	raw   json.RawMessage
	fail  *Failure
	// aliases are further keys this (successful) answer also answers.
	aliases []string
	// indicator, when set, replaces the command's failure indicator (that of the
	// reputation check a lookup input went to).
	indicator string
}

type run struct {
	cmd   *Command
	p     *Prepared
	d     Deps
	cache cache.Cache
	log   *slog.Logger
	now   func() time.Time
	// keepRaw keeps VirusTotal's answers in answered for the tasks that start later
	// (a file's md5 answered by its sha256's fetch); a run without such tasks drops
	// them once each input has its result, so that a long stream's memory does not
	// grow with its inputs.
	keepRaw bool

	mu       sync.Mutex
	answered map[string]outcome // successful outcomes by key and alias
	flights  map[string]*flight

	sinkMu sync.Mutex
	sink   func(Result)
}

type flight struct {
	done chan struct{}
	out  outcome
}

// Run runs every input of p on d and returns the envelope. The error is non-nil only
// when d cannot run p: a *RequestError wrapping ErrPremiumOnly (nothing was sent), or
// Deps without a client. Everything that happens to an input is in the envelope.
func Run(ctx context.Context, d Deps, p *Prepared) (*Envelope, error) {
	results := make([]Result, p.Len())
	if err := Stream(ctx, d, p, nil, func(res Result) { results[res.Index] = res }); err != nil {
		return nil, err
	}
	return p.Envelope(results), nil
}

// Stream runs the inputs of p at the positions in only (nil: every input) on d, and
// gives each input's result to sink as soon as it is known, in the order they finish,
// one call at a time; Result.Index is the input's position in p.Inputs(). Inputs
// naming the same object are answered by one request, within the inputs run. Stream
// keeps none of the results: a caller that writes them as they come (-o jsonl) or
// stores them (a run resumed later) holds only what it keeps, and p.Envelope makes
// the envelope of the results of every input. The error is Run's.
func Stream(ctx context.Context, d Deps, p *Prepared, only []int, sink func(Result)) error {
	r, err := newRun(d, p)
	if err != nil {
		return err
	}
	r.sink = sink
	inputs := p.inputs
	if p.cmd.NoInputs {
		inputs = []string{r.d.Client.ServerURL()}
	}
	if only == nil {
		only = make([]int, len(inputs))
		for i := range only {
			only[i] = i
		}
	}
	for _, i := range only {
		if i < 0 || i >= len(inputs) {
			return fmt.Errorf("command: input %d of %d", i, len(inputs))
		}
	}
	r.execute(ctx, inputs, only)
	return nil
}

// Envelope makes the envelope of p from its results, one per input in input order
// (the results Stream gave, in any order, put at their Index).
func (p *Prepared) Envelope(results []Result) *Envelope {
	env := &Envelope{Command: p.cmd.Name, cmd: p.cmd, ContextData: make([]ContextEntry, 0, len(results)),
		RawData: []json.RawMessage{}, Errors: []ErrorEntry{}}
	ok := 0
	for i, res := range results {
		env.ContextData = append(env.ContextData, res.Context)
		switch {
		case res.Skipped != nil:
			s := *res.Skipped
			s.Index = &i
			env.Skipped = append(env.Skipped, s)
		case res.Err != nil:
			env.Errors = append(env.Errors, *res.Err)
		default:
			ok++
			raw := res.Raw
			if len(raw) == 0 {
				raw = json.RawMessage("null")
			}
			env.RawData = append(env.RawData, raw)
		}
	}
	env.ReturnData = returnData(ok, len(env.Errors))
	env.KeyFields = map[string]any{}
	if p.cmd.keyFields != nil {
		env.KeyFields = p.cmd.keyFields(results)
	}
	env.Skipped = append(env.Skipped, p.skipped...)
	return env
}

// unknownCommand is the RequestError of a command name the registry does not have.
func unknownCommand(name string) *RequestError {
	return refused(ErrUnknownCommand, func(Door) string { return fmt.Sprintf("unknown command %q", name) })
}

// premiumOnly is the RequestError of what (a relationship, a command) being asked on
// a public budget.
func premiumOnly(what string) *RequestError {
	return refused(ErrPremiumOnly, func(d Door) string {
		return what + " (VirusTotal Enterprise keys; a public key is refused with 403 ForbiddenError), " +
			"and the budget in use is VirusTotal's public one, so the key is taken as a public key: nothing was sent. " +
			d.premiumHint()
	})
}

// premiumOptions are options that may need a premium key (a premium-only
// relationship): needsPremium says what needs it, or "".
type premiumOptions interface {
	needsPremium() string
}

// depsOptions are options that can be checked only against the run's Deps (where
// download-file's files go).
type depsOptions interface {
	checkDeps(d Deps) error
}

func newRun(d Deps, p *Prepared) (*run, error) {
	cmd := p.cmd
	if do, ok := p.opts.(depsOptions); ok {
		if err := do.checkDeps(d); err != nil {
			return nil, err
		}
	}
	if po, ok := p.opts.(premiumOptions); ok && d.PublicKey {
		if what := po.needsPremium(); what != "" {
			return nil, premiumOnly(what)
		}
	}
	if cmd.Premium && d.PublicKey {
		return nil, premiumOnly(cmd.Name + " is premium-only")
	}
	if d.Client == nil {
		return nil, errors.New("command: Deps.Client is nil")
	}
	r := &run{cmd: cmd, p: p, d: d, cache: d.Cache, log: d.Logger, now: d.Now,
		answered: make(map[string]outcome), flights: make(map[string]*flight)}
	if r.cache == nil {
		r.cache = cache.NewMemory()
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

type job struct {
	task
	idx []int
}

// execute runs the inputs at the positions in only, giving each result to the sink.
func (r *run) execute(ctx context.Context, inputs []string, only []int) {
	jobs := make(map[string]*job)
	var order []*job
	for _, i := range only {
		in := inputs[i]
		t, f := r.cmd.plan(r, in)
		if f != nil {
			r.emit(r.result(i, in, outcome{entry: ContextEntry{Type: string(r.cmd.Kind)}, fail: f}))
			continue
		}
		if s := r.skip(in, t.obs); s != nil {
			r.emit(r.skipped(i, s))
			continue
		}
		if t.key == "" {
			t.key = fmt.Sprintf("\x00input %d", i)
		}
		j, ok := jobs[t.key]
		if !ok {
			j = &job{task: t}
			jobs[t.key] = j
			order = append(order, j)
		}
		j.idx = append(j.idx, i)
	}
	slices.SortStableFunc(order, func(a, b *job) int { return a.tier - b.tier })

	maxTier := 0
	for _, j := range order {
		maxTier = max(maxTier, j.tier)
	}
	r.keepRaw = maxTier > 0 || r.cmd.TakesFiles
	tiers := make([]sync.WaitGroup, maxTier+1)
	for _, j := range order {
		tiers[j.tier].Add(1)
	}

	workers := min(r.p.run.Concurrency, len(order))
	do := func(j *job) {
		for t := 0; t < j.tier; t++ {
			tiers[t].Wait()
		}
		out, ok := r.lookup(j.key)
		if !ok {
			out = r.safeExec(ctx, j.task)
		}
		if out.fail == nil {
			r.remember(j.key, out)
		}
		for _, i := range j.idx {
			r.emit(r.result(i, inputs[i], out))
		}
		tiers[j.tier].Done()
	}
	if workers <= 1 {
		// One at a time (a single input, most often): on the caller's goroutine,
		// whose stack has already grown to what the store and the client need.
		for _, j := range order {
			do(j)
		}
		return
	}
	ch := make(chan *job)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range ch {
				do(j)
			}
		})
	}
	for _, j := range order {
		ch <- j
	}
	close(ch)
	wg.Wait()
}

func (r *run) lookup(key string) (outcome, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.answered[key]
	return o, ok
}

func (r *run) remember(key string, o outcome) {
	if !r.keepRaw {
		// No task left to start can be answered by it: what only raw_data and the
		// exports read is not kept for the rest of the run.
		o.raw, o.entry = nil, compactEntry(o.entry)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answered[key] = o
	for _, a := range o.aliases {
		if _, ok := r.answered[a]; !ok {
			r.answered[a] = o
		}
	}
}

// once runs fn for key unless another task of this run already did or is doing it,
// in which case it waits for that answer: for work whose key is only known once a
// task has started (the sha256 of a local file).
func (r *run) once(ctx context.Context, key string, fn func() outcome) outcome {
	r.mu.Lock()
	if o, ok := r.answered[key]; ok {
		r.mu.Unlock()
		return o
	}
	if f, ok := r.flights[key]; ok {
		r.mu.Unlock()
		select {
		case <-f.done:
			return f.out
		case <-ctx.Done():
			return outcome{fail: r.failure(ctx.Err())}
		}
	}
	f := &flight{done: make(chan struct{})}
	r.flights[key] = f
	r.mu.Unlock()
	f.out = fn()
	close(f.done)
	if f.out.fail == nil {
		r.remember(key, f.out)
	}
	return f.out
}

func (r *run) safeExec(ctx context.Context, t task) (out outcome) {
	defer func() {
		if p := recover(); p != nil {
			r.log.ErrorContext(ctx, "command panicked", "command", r.cmd.Name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out = outcome{fail: &Failure{StatusCode: 0, Code: "InternalError", Message: fmt.Sprintf("internal error: %v", p)}}
		}
	}()
	if err := ctx.Err(); err != nil {
		return outcome{fail: r.failure(err)}
	}
	if r.d.Admit != nil {
		if err := r.d.Admit(); err != nil {
			return outcome{fail: r.failure(err)}
		}
	}
	return r.cmd.exec(ctx, r, t)
}

func (r *run) result(i int, input string, o outcome) Result {
	e := o.entry
	e.Input = input
	res := Result{Index: i}
	if o.fail != nil {
		e.Status = StatusError
		e.Error = o.fail.Message
		if r.cmd.hasRisk {
			e.RiskLevel, e.RiskLevelCode, e.RiskReason = risk.NA.String(), risk.NA.Code(), ""
		}
		indicator := r.cmd.FailureIndicator
		if o.indicator != "" {
			indicator = o.indicator
		}
		res.Err = &ErrorEntry{Input: input, FailureIndicator: indicator,
			StatusCode: o.fail.StatusCode, Code: o.fail.Code, Message: o.fail.Message}
	} else {
		e.Status = StatusOK
		res.Raw = o.raw
	}
	res.Context = e
	return res
}

// observableFilter are the options of a command that leaves out more observables
// than the private ones (lookup's kinds and well-known benign domains): leaveOut says
// why o, of the given scope and scope's reason, is left out, and the option that
// would include it; "" keeps it.
type observableFilter interface {
	leaveOut(o ioc.Observable, scope ioc.Scope, reason string) (why, include string)
}

// skip says why nothing is sent for the input in whose task is the observable o, or
// nil when it is sent: what the command's options leave out (observableFilter); a
// private, reserved, loopback, link-local or documentation address, or a name
// reserved for private or documentation use (and a URL on one), as ioc.Classify
// says, unless the run or the connection includes them.
func (r *run) skip(input string, o ioc.Observable) *SkippedInput {
	if o.Kind == "" {
		return nil
	}
	s := &SkippedInput{Input: input, Type: string(o.Kind), Value: o.Value}
	scope, reason := ioc.Classify(o)
	if f, ok := r.p.opts.(observableFilter); ok {
		if why, include := f.leaveOut(o, scope, reason); why != "" {
			s.Reason, s.Include = why, include
			return s
		}
	}
	if scope == ioc.NonPublic && !r.p.run.IncludePrivate && !r.d.IncludePrivate {
		s.Reason, s.Include = reason, "include_private"
		return s
	}
	return nil
}

// skipped is the result of an input nothing was sent for: its entry, with risk
// level N/A where the command has risk levels, and why.
func (r *run) skipped(i int, s *SkippedInput) Result {
	e := ContextEntry{Input: s.Input, Status: StatusSkipped, Type: s.Type, SkipReason: s.Reason}
	if r.cmd.hasRisk {
		e.RiskLevel, e.RiskLevelCode = risk.NA.String(), risk.NA.Code()
	}
	return Result{Index: i, Context: e, Skipped: s}
}

func (r *run) emit(res Result) {
	r.sinkMu.Lock()
	defer r.sinkMu.Unlock()
	r.sink(res)
}

// failure turns an error into the integration's failure for this command.
func (r *run) failure(err error) *Failure { return failureAs(r.cmd.NotFound, r.cmd.Invalid, err) }

// NotJSON is the message of an answer whose body was not JSON at all (an HTML page),
// as D3 SOAR's integration reports it: its JSON parser's complaint. vtsoar's
// description of the body follows it.
const NotJSON = "Expecting value: line 1 column 1."

// failureAs turns an error into the integration's failure in the words of a command
// whose message for an object VirusTotal does not know is notFound and for a
// refused input invalid.
func failureAs(notFound, invalid string, err error) *Failure {
	var ve *vt.Error
	switch {
	case errors.As(err, &ve):
		f := &Failure{StatusCode: ve.StatusCode, Code: ve.Code, Message: ve.Message}
		switch {
		case ve.StatusCode == 404 || ve.Code == vt.CodeNotFound:
			f.Message = notFound
		case ve.NotJSON():
			f.Message = joinMsg(NotJSON, ve.Message)
		case ve.Code == vt.CodeInvalidArgument || ve.Code == vt.CodeBadRequest:
			f.Message = joinMsg(invalid, ve.Message)
		case f.Message == "":
			f.Message = fmt.Sprintf("VirusTotal answered %d %s", ve.StatusCode, ve.Code)
		}
		return f
	case errors.Is(err, vt.ErrInvalidArgument):
		return &Failure{StatusCode: 400, Code: vt.CodeInvalidArgument, Message: joinMsg(invalid, err.Error())}
	case errors.Is(err, context.DeadlineExceeded):
		return &Failure{StatusCode: 0, Code: vt.CodeDeadlineExceeded, Message: "no answer in time: " + err.Error()}
	case errors.Is(err, context.Canceled):
		return &Failure{StatusCode: 0, Code: "CanceledError", Message: "canceled before VirusTotal answered"}
	}
	return &Failure{StatusCode: 0, Code: "ConnectionError", Message: err.Error()}
}

// invalidInput is the failure of an input rejected before anything was sent.
func (r *run) invalidInput(msg string) *Failure {
	return &Failure{StatusCode: 400, Code: vt.CodeInvalidArgument, Message: joinMsg(r.cmd.Invalid, msg)}
}

func joinMsg(head, detail string) string {
	if detail == "" {
		return head
	}
	return head + " " + upperFirst(detail) + endDot(detail)
}

// upperFirst capitalises the first letter of a sentence, but not of a first word that
// is a name written in lower case with digits ("md5 must be 32 hex characters").
func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	first, _, _ := strings.Cut(s, " ")
	if strings.ContainsAny(first, "0123456789") {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func endDot(s string) string {
	if s == "" {
		return ""
	}
	switch s[len(s)-1] {
	case '.', '!', '?':
		return ""
	}
	return "."
}

// parseAs parses an input as an observable of the command's kind; a rejection is a 400
// failure with ioc's reason.
func (r *run) parseAs(kind ioc.Kind, input string) (ioc.Observable, *Failure) {
	o, err := ioc.ParseAs(kind, input)
	if err != nil {
		if other, err2 := ioc.Parse(input); err2 == nil && other.Kind != kind {
			msg := fmt.Sprintf("%s is %s, not %s", strings.TrimSpace(input), kindArticle(other.Kind), kindArticle(kind))
			if c, ok := Lookup(strings.Replace(r.cmd.Name, "-"+string(kind)+"-", "-"+string(other.Kind)+"-", 1)); ok && c != r.cmd {
				msg += "; use the " + c.Name + " command"
			}
			return ioc.Observable{}, r.invalidInput(msg)
		}
		var ie *ioc.Error
		if errors.As(err, &ie) {
			return ioc.Observable{}, r.invalidInput(ie.Reason)
		}
		return ioc.Observable{}, r.invalidInput(err.Error())
	}
	return o, nil
}
