package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/export"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// handleCommand runs POST /api/v1/commands/{command}. The body is the request's JSON
// form (command.Request) with members of the API's own: "connection", the stored
// connection to run on; "file_source", which limits the files a command that takes
// files sees to those of that source; and "site", the site of the playbook files a
// command that writes files keeps. The request is looked up and checked once, by
// Prepare.
func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request, u *store.User) error {
	var req command.Request
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Command = r.PathValue("command")
	var connName, fileSource, site string
	if _, err := req.Take("connection", &connName); err != nil {
		return commandRefused(err)
	}
	hasSource, err := req.Take("file_source", &fileSource)
	if err != nil {
		return commandRefused(err)
	}
	hasSite, err := req.Take("site", &site)
	if err != nil {
		return commandRefused(err)
	}
	p, err := s.commands.Prepare(req)
	if errors.Is(err, command.ErrUnknownCommand) {
		return notFound("no command %q; the commands are listed in /api/v1/openapi.json", req.Command)
	}
	if err != nil {
		return commandRefused(err)
	}
	cmd := p.Command()
	if hasSource {
		if !cmd.TakesFiles {
			return badRequest("file_source is an option of %s only", strings.Join(s.takesFiles, ", "))
		}
		if fileSource, err = store.ParseFileSource(fileSource); err != nil {
			return badRequest("file_source: %v", err)
		}
	}
	if hasSite && !cmd.WritesFiles {
		return badRequest("site is an option of %s only (the site of the files they keep)", strings.Join(s.writesFiles, ", "))
	}
	if cmd.WritesFiles {
		if site, err = siteFor(u, site); err != nil {
			return err
		}
	}
	prefs, err := parsePrefer(r.Header.Values("Prefer"))
	if err != nil {
		return err
	}
	format, err := exportFormat(r)
	if err != nil {
		return err
	}
	if format != "" {
		if err := export.Check(cmd, format); err != nil {
			return badRequest("%v", err)
		}
	}

	conn, err := s.pickConnection(r, u, connName)
	if err != nil {
		return err
	}
	cc, err := s.conns.Get(r.Context(), conn)
	if err != nil {
		return internal(err)
	}
	if prefs.async {
		return s.submitRun(w, r, enrich.NewRun{User: u.Name, Connection: conn.Name, Prepared: p, FileSource: fileSource, Site: site},
			format, prefs)
	}
	d := cc.Deps()
	d.Logger = s.log.With("command", cmd.Name, "connection", conn.Name)
	if cmd.TakesFiles {
		// The inputs are ids of uploaded files that the user's sites see, of the asked
		// source if one is given.
		d.Files = s.files.Source(func(f store.StoredFile) bool {
			return seesSite(u, f.Site) && (fileSource == "" || f.InSource(fileSource))
		})
	}
	if cmd.WritesFiles {
		// What it makes is kept in the file store, as playbook files of the site.
		d.Keep = s.files.Playbook(site, u.Name, s.cfg.MaxFileSize, s.log)
	}

	// A command that follows analyses may run for its timeout; the answer's deadline
	// follows it.
	wait := 5 * time.Minute
	if t := p.AnalysisTimeout(); t > 0 {
		wait = t + time.Minute
	}
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait))

	ctx := quota.WithRequester(vt.WithPriority(r.Context(), vt.PriorityInteractive), quota.UserRequester(u.Name))
	start := time.Now()
	var limit *quota.WaitLimit
	if prefs.hasWait {
		// The budget must serve the command within the wait; else 429, at once.
		ctx, limit = quota.WithWaitLimit(ctx, start.Add(prefs.wait))
	}
	env, err := command.Run(ctx, d, p)
	s.metrics.commandDuration.WithLabelValues(cmd.Name).Observe(time.Since(start).Seconds())
	if err != nil {
		if re := (*command.RequestError)(nil); errors.As(err, &re) {
			return commandRefused(re)
		}
		return internal(err)
	}
	if limit != nil {
		if we := limit.Err(); we != nil {
			w.Header().Set("Preference-Applied", "wait="+strconv.Itoa(int(prefs.wait/time.Second)))
			return quotaWaitRefused(conn.Name, we, time.Now())
		}
		w.Header().Set("Preference-Applied", "wait="+strconv.Itoa(int(prefs.wait/time.Second)))
	}
	if format != "" {
		return writeExport(w, format, env)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	raw := 0
	for _, b := range env.RawData {
		raw += len(b)
	}
	if raw > maxBufferedAnswer {
		// A large answer is streamed (chunked) rather than held twice in memory.
		w.WriteHeader(http.StatusOK)
		if err := env.WriteJSON(w, command.JSONFormat{}); err != nil {
			s.log.WarnContext(r.Context(), "writing a command's answer failed", "command", cmd.Name, "error", err)
		}
		return nil
	}
	// Most answers are a few objects: written whole, with their length, in one write
	// instead of a chunk per buffer.
	buf := answerBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 4*maxBufferedAnswer {
			buf.Reset()
			answerBuffers.Put(buf)
		}
	}()
	if err := env.WriteJSON(buf, command.JSONFormat{}); err != nil {
		return internal(fmt.Errorf("encoding a command's answer: %w", err))
	}
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(buf.Bytes()); err != nil {
		s.log.WarnContext(r.Context(), "writing a command's answer failed", "command", cmd.Name, "error", err)
	}
	return nil
}

// commandRefused is the 400 problem of a request the command package refused, in
// REST's words (members, not flags).
func commandRefused(err error) error {
	if re := (*command.RequestError)(nil); errors.As(err, &re) {
		return badRequest("%s", re.Message(command.REST))
	}
	return badRequest("%v", err)
}

// orList is "a, b or c".
func orList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// maxBufferedAnswer is the size of VirusTotal answers up to which a command's
// envelope is encoded whole before it is sent.
const maxBufferedAnswer = 1 << 20

// answerBuffers holds the buffers envelopes are encoded into.
var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// pickConnection returns the connection a command runs on: the one named, which u
// must be allowed to use, or, when none is named, the only one u may use.
func (s *Server) pickConnection(r *http.Request, u *store.User, name string) (store.Connection, error) {
	if name != "" {
		c, err := s.cfg.Store.GetConnection(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			return c, notFound("no connection %q", name)
		}
		if err != nil {
			return c, internal(err)
		}
		return c, mayUse(u, c)
	}
	list, err := s.cfg.Store.ListConnections(r.Context())
	if err != nil {
		return store.Connection{}, internal(err)
	}
	var usable []store.Connection
	for _, c := range list {
		if mayUse(u, c) == nil {
			usable = append(usable, c)
		}
	}
	switch len(usable) {
	case 1:
		return usable[0], nil
	case 0:
		return store.Connection{}, notFound("no connection that user %s may use; an admin adds one with POST /api/v1/connections", u.Name)
	}
	names := make([]string, len(usable))
	for i, c := range usable {
		names[i] = c.Name
	}
	return store.Connection{}, badRequest("name the connection to use in \"connection\" (one of %s)", strings.Join(names, ", "))
}
