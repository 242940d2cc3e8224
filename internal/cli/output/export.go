package output

import (
	"io"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/export/misp"
	"github.com/vtsoar/vtsoar/internal/export/stix"
)

// STIX writes the envelope of a reputation command as a STIX 2.1 bundle.
func STIX(w io.Writer, env *command.Envelope, now time.Time) error {
	b, err := stix.FromEnvelope(env, stix.Options{Now: now})
	if err != nil {
		return err
	}
	data, err := stix.Marshal(b)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// MISP writes the envelope of a reputation command as a MISP event (MISP's JSON
// format).
func MISP(w io.Writer, env *command.Envelope, now time.Time) error {
	d, err := misp.FromEnvelope(env, misp.Options{Now: now})
	if err != nil {
		return err
	}
	data, err := misp.Marshal(d)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}
