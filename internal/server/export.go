package server

import (
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/export"
	"github.com/vtsoar/vtsoar/internal/export/misp"
	"github.com/vtsoar/vtsoar/internal/export/stix"
)

// Media types a command's answer can be asked for in Accept.
const (
	mediaSTIX = "application/stix+json"
	mediaMISP = "application/vnd.misp+json"
)

// exportFormat returns the format a command's answer is asked in: ?format=
// (json, stix or misp), else the Accept header (application/stix+json, or
// application/vnd.misp+json for a MISP event); "" for the envelope.
func exportFormat(r *http.Request) (string, error) {
	if f := r.URL.Query().Get("format"); f != "" {
		switch strings.ToLower(f) {
		case "json":
			return "", nil
		case export.FormatSTIX:
			return export.FormatSTIX, nil
		case export.FormatMISP:
			return export.FormatMISP, nil
		}
		return "", badRequest("format %q: want json (the envelope), stix (a STIX 2.1 bundle) or misp (a MISP event)", f)
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case mediaSTIX:
			if v, ok := params["version"]; ok && v != stix.SpecVersion {
				return "", &apiError{status: http.StatusNotAcceptable, typ: ProblemInvalidRequest,
					detail: "STIX version " + v + " is not available: vtsoar writes STIX 2.1"}
			}
			return export.FormatSTIX, nil
		case mediaMISP:
			return export.FormatMISP, nil
		}
	}
	return "", nil
}

// writeExport answers a command's envelope in format (stix or misp).
func writeExport(w http.ResponseWriter, format string, env *command.Envelope) error {
	var data []byte
	var err error
	ctype := "application/json"
	switch format {
	case export.FormatSTIX:
		var b *stix.Bundle
		if b, err = stix.FromEnvelope(env, stix.Options{Now: time.Now()}); err == nil {
			data, err = stix.Marshal(b)
		}
		ctype = stix.MediaType
	case export.FormatMISP:
		var d *misp.Document
		if d, err = misp.FromEnvelope(env, misp.Options{Now: time.Now()}); err == nil {
			data, err = misp.Marshal(d)
		}
	}
	if err != nil {
		return internal(err)
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(data)
	return nil
}
