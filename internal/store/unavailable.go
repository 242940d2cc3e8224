package store

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err says that the database is out of reach for a
// while, so that the same call may succeed later: PostgreSQL refusing or dropping
// connections (shutting down, restarting, terminated by an administrator, out of
// connection slots, taking no connections to the database), a connection that could
// not be made (refused, unreachable) or that broke mid-statement. A refusal of the
// statement itself (a constraint, a lock or busy timeout, SQLite's busy database),
// refused credentials and a closed store are not unavailability. The REST API answers unavailability with 503 and Retry-After.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	hasPG := errors.As(err, &pe)
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		// No session: the server is down, unreachable, starting, or takes no
		// connections to the database now; refused credentials are not passing.
		return !hasPG || !strings.HasPrefix(pe.Code, "28")
	}
	if hasPG {
		return unavailableState(pe.Code)
	}
	var lost *connLost
	return errors.As(err, &lost) || errors.Is(err, driver.ErrBadConn)
}

// unavailableState reports whether a PostgreSQL SQLSTATE says the server is going away
// or cannot take the session now: class 08 (connection exceptions), 57P01
// admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (shutting down or
// starting up), 57P05 idle_session_timeout, 53300 too_many_connections.
func unavailableState(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03", "57P05", "53300":
		return true
	}
	return strings.HasPrefix(code, "08")
}

// connLost marks an error of a statement whose connection to PostgreSQL broke (the
// server went away without a word: a crash, a network cut), so that IsUnavailable
// knows it from the other I/O errors of a program (a client's body cut short).
type connLost struct{ err error }

func (e *connLost) Error() string { return e.err.Error() }
func (e *connLost) Unwrap() error { return e.err }

// markLost wraps connLost around err when it is a broken connection's I/O error.
func markLost(err error) error {
	var ne net.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
	case errors.As(err, &ne) && !ne.Timeout():
	default:
		return err
	}
	return &connLost{err}
}
