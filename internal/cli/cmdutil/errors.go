package cmdutil

import (
	"errors"
	"fmt"

	"github.com/vtsoar/vtsoar/internal/command"
)

// Exit codes of the vtsoar binary.
const (
	ExitOK       = 0 // Successful
	ExitFailed   = 1 // Failed (no input succeeded), or an unexpected error
	ExitUsage    = 2 // usage or configuration error
	ExitPartial  = 3 // Partially Successful
	ExitCanceled = 130
)

// UsageError is a usage or configuration error: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitError ends the program with Code once the output is written; it carries no
// message to print.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// IsUsage reports whether err is a usage error.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

// RequestError is err as the command line says it: a malformed request
// (*command.RequestError, whose message names options by their flags) is a usage
// error; any other error is returned as it is.
func RequestError(err error) error {
	var re *command.RequestError
	if !errors.As(err, &re) {
		return err
	}
	return &UsageError{Err: err}
}
