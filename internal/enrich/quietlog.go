package enrich

import (
	"context"
	"log/slog"
)

// quiet returns a logger on l's handler that logs River's informational lines (its
// producers' job counts every minute, each queue migration applied, its client
// started and stopped) at debug level: they are in the log with --log-level debug
// (or -v) and out of the way otherwise. Warnings and errors keep their level.
func quiet(l *slog.Logger) *slog.Logger { return slog.New(demote{l.Handler()}) }

// demote is a slog.Handler that lowers Info records to Debug.
type demote struct{ h slog.Handler }

func lower(l slog.Level) slog.Level {
	if l >= slog.LevelInfo && l < slog.LevelWarn {
		return slog.LevelDebug
	}
	return l
}

func (d demote) Enabled(ctx context.Context, l slog.Level) bool { return d.h.Enabled(ctx, lower(l)) }

func (d demote) Handle(ctx context.Context, r slog.Record) error {
	r.Level = lower(r.Level)
	return d.h.Handle(ctx, r)
}

func (d demote) WithAttrs(as []slog.Attr) slog.Handler { return demote{d.h.WithAttrs(as)} }
func (d demote) WithGroup(name string) slog.Handler    { return demote{d.h.WithGroup(name)} }
