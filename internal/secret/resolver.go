package secret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/shlex"
)

// Schemes of a secret reference.
const (
	SchemeEnv  = "env:"
	SchemeFile = "file:"
	// SchemeExec runs a command (split into its arguments as a shell would, but run
	// without a shell) whose standard output, trimmed, is the secret: a password
	// vault's client (`vault kv get -field=key secret/vt`, `op read op://soc/vt/key`).
	SchemeExec = "exec:"
)

// Defaults of a Resolver.
const (
	// DefaultCacheTTL is how long a Resolver keeps what a reference resolved to.
	DefaultCacheTTL = time.Minute
	// DefaultExecTimeout bounds an exec: reference's command.
	DefaultExecTimeout = 10 * time.Second
)

// IsKeyReference reports whether s is a reference a stored API key may be: env:NAME,
// file:PATH or exec:COMMAND.
func IsKeyReference(s string) bool {
	return IsReference(s) || strings.HasPrefix(s, SchemeExec)
}

// Resolver resolves secret references each time one is used, not once: a key moved in
// its vault, a file rewritten, is what the next use gets, within TTL. What a reference
// resolved to is kept for TTL, so that a busy process neither runs a vault's client nor
// reads a file for every request; it is never logged, and errors name the reference,
// never the secret. A Resolver is safe for concurrent use.
type Resolver struct {
	// TTL is how long a resolved secret is kept (0: not kept; negative:
	// DefaultCacheTTL).
	TTL time.Duration
	// ExecTimeout bounds an exec: reference's command (0: DefaultExecTimeout).
	ExecTimeout time.Duration
	// Now is the clock of TTL (nil: time.Now).
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]resolved
}

type resolved struct {
	secret string
	at     time.Time
}

// NewResolver returns a Resolver that keeps what it resolved for ttl.
func NewResolver(ttl time.Duration) *Resolver { return &Resolver{TTL: ttl} }

// Resolve returns the secret ref names: env:NAME, file:PATH (as Resolve does), or
// exec:COMMAND, the command's standard output with the white space around it trimmed.
// An answer younger than TTL is given again.
func (r *Resolver) Resolve(ctx context.Context, ref string) (string, error) {
	now := r.now()
	r.mu.Lock()
	if e, ok := r.cache[ref]; ok && now.Sub(e.at) < r.ttl() {
		r.mu.Unlock()
		return e.secret, nil
	}
	r.mu.Unlock()
	var s string
	var err error
	if strings.HasPrefix(ref, SchemeExec) {
		s, err = r.exec(ctx, strings.TrimPrefix(ref, SchemeExec))
	} else {
		s, err = Resolve(ref)
	}
	if err != nil {
		return "", err
	}
	if r.ttl() > 0 {
		r.mu.Lock()
		if r.cache == nil {
			r.cache = map[string]resolved{}
		}
		r.cache[ref] = resolved{secret: s, at: now}
		r.mu.Unlock()
	}
	return s, nil
}

// Forget drops what ref resolved to, so that its next use resolves it again (a test
// of the connection checks the secret as it is now).
func (r *Resolver) Forget(ref string) {
	r.mu.Lock()
	delete(r.cache, ref)
	r.mu.Unlock()
}

func (r *Resolver) ttl() time.Duration {
	if r.TTL < 0 {
		return DefaultCacheTTL
	}
	return r.TTL
}

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// exec runs command without a shell and returns its standard output, trimmed.
func (r *Resolver) exec(ctx context.Context, command string) (string, error) {
	argv, err := shlex.Split(command)
	if err != nil {
		return "", fmt.Errorf("secret reference exec:%s: %w", command, err)
	}
	if len(argv) == 0 {
		return "", errors.New("secret reference exec: names no command")
	}
	timeout := r.ExecTimeout
	if timeout <= 0 {
		timeout = DefaultExecTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr limitedBuffer
	stdout.limit, stderr.limit = MaxUserFile, 512
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return "", fmt.Errorf("secret reference exec:%s: no answer within %s", argv[0], timeout)
	case err != nil:
		// The first line of what the command said on stderr tells why (a vault's
		// "permission denied"); its output, which may hold a secret, is not shown.
		why, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		if why != "" {
			return "", fmt.Errorf("secret reference exec:%s: %w: %s", argv[0], err, why)
		}
		return "", fmt.Errorf("secret reference exec:%s: %w", argv[0], err)
	case stdout.over:
		return "", fmt.Errorf("secret reference exec:%s: its output is larger than %d bytes", argv[0], MaxUserFile)
	}
	s := strings.TrimSpace(stdout.String())
	if s == "" {
		return "", fmt.Errorf("secret reference exec:%s: the command printed nothing", argv[0])
	}
	return s, nil
}

// limitedBuffer keeps the first limit bytes written to it and notes that more came.
type limitedBuffer struct {
	bytes.Buffer
	limit int
	over  bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); room < len(p) {
		b.over = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// ErrRefNotAllowed is wrapped by AllowedRef's error for a reference the operator did
// not allow.
var ErrRefNotAllowed = errors.New("secret reference not allowed")

// AllowedRef checks a secret reference given over the network (the REST API, the
// console) against the operator's patterns (`serve --allow-secret-ref`, globs as
// path.Match reads them: 'env:VT_*', 'file:/run/secrets/*'): it must match one. An
// exec: reference is never allowed, and a file: one must name a clean absolute path
// (no "..", so that a pattern on a directory holds). Otherwise an admin over HTTP
// could make the server read any of its files, or run a command, and send what it got
// to a server of their choice.
func AllowedRef(ref string, patterns []string) error {
	switch {
	case strings.HasPrefix(ref, SchemeExec):
		return fmt.Errorf("%w: exec: references run commands and are taken from the command line only (vtsoar connection add)", ErrRefNotAllowed)
	case strings.HasPrefix(ref, SchemeFile):
		p := strings.TrimPrefix(ref, SchemeFile)
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return fmt.Errorf("%w: %s: a file: reference names a clean absolute path", ErrRefNotAllowed, ref)
		}
	case !IsReference(ref):
		return ErrNotReference
	}
	for _, pat := range patterns {
		if ok, err := path.Match(pat, ref); err == nil && ok {
			return nil
		}
	}
	if len(patterns) == 0 {
		return fmt.Errorf("%w: %s: the server takes no secret reference (its operator allows them with vtsoar serve --allow-secret-ref PATTERN)", ErrRefNotAllowed, ref)
	}
	return fmt.Errorf("%w: %s matches none of the patterns the server allows (%s)", ErrRefNotAllowed, ref, strings.Join(patterns, ", "))
}

// CheckRefPattern refuses a pattern of `serve --allow-secret-ref` that path.Match
// cannot read, or that is not of an env: or file: reference.
func CheckRefPattern(pat string) error {
	if _, err := path.Match(pat, ""); err != nil {
		return fmt.Errorf("--allow-secret-ref %q: %w", pat, err)
	}
	if !strings.HasPrefix(pat, SchemeEnv) && !strings.HasPrefix(pat, SchemeFile) {
		return fmt.Errorf("--allow-secret-ref %q: a pattern of env: or file: references (exec: ones are never taken over the network)", pat)
	}
	return nil
}
