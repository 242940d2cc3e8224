package vtsim

import (
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Fault is a failure the emulator injects, as VirusTotal or a proxy in front of it
// answers it.
type Fault string

// The failures FailMix can inject.
const (
	// Fault503 is VirusTotal's 503 TransientError ("Transient server error. Retry
	// might work.").
	Fault503 Fault = "503"
	// Fault504 is VirusTotal's 504 DeadlineExceededError ("The operation took too
	// long to complete.").
	Fault504 Fault = "504"
	// Fault429 is VirusTotal's 429 TooManyRequestsError ("Too many requests."): a
	// request rate refusal, not QuotaExceededError (a spent quota), which the
	// emulator answers only when QuotaMinute or QuotaDay runs out.
	Fault429 Fault = "429"
	// Fault502HTML is a proxy's 502 Bad Gateway: an HTML page, not VirusTotal's JSON.
	Fault502HTML Fault = "502html"
	// Fault403HTML is a proxy's or a web application firewall's 403 Forbidden in
	// front of VirusTotal: an HTML page, not VirusTotal's JSON.
	Fault403HTML Fault = "403html"
	// Fault404 is VirusTotal's 404 NotFoundError ("The requested resource was not
	// found."), whatever was asked: a resource VirusTotal does not have, for the
	// requests the emulator's universe always answers (a URL submission, a search).
	Fault404 Fault = "404"
)

// Faults lists the injectable failures, in the order FailMix draws them.
func Faults() []Fault {
	return []Fault{Fault503, Fault504, Fault429, Fault502HTML, Fault403HTML, Fault404}
}

// faultNames lists the faults for error messages: "503, 504, ... or 404".
func faultNames() string {
	fs := Faults()
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// FailMix is the share of requests, each in [0, 1], that get each failure; the shares
// add up to at most 1.
type FailMix map[Fault]float64

// ParseFailMix reads a failure mix: comma-separated FAULT=SHARE pairs, for example
// "503=0.1,504=0.05,429=0.05,502html=0.05". Each fault (Faults) appears at most once, each share is a number in [0, 1], and the shares add up to
// at most 1. An empty string is no failure at all.
func ParseFailMix(s string) (FailMix, error) {
	m := FailMix{}
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("failure mix %q: %q is not FAULT=SHARE (for example 503=0.1)", s, part)
		}
		f := Fault(strings.ToLower(strings.TrimSpace(name)))
		if !slices.Contains(Faults(), f) {
			return nil, fmt.Errorf("failure mix %q: unknown failure %q (want %s)", s, name, faultNames())
		}
		if _, dup := m[f]; dup {
			return nil, fmt.Errorf("failure mix %q: %s is given twice", s, f)
		}
		share, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || math.IsNaN(share) {
			return nil, fmt.Errorf("failure mix %q: %s=%s: the share must be a number between 0 and 1", s, f, val)
		}
		m[f] = share
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("failure mix %q: %w", s, err)
	}
	return m, nil
}

// Validate checks the faults are known, each share is in [0, 1] and they add up to at
// most 1.
func (m FailMix) Validate() error {
	total := 0.0
	for _, f := range slices.Sorted(maps.Keys(m)) {
		share := m[f]
		if !slices.Contains(Faults(), f) {
			return fmt.Errorf("unknown failure %q (want %s)", f, faultNames())
		}
		if math.IsNaN(share) || share < 0 || share > 1 {
			return fmt.Errorf("%s=%v: the share must be between 0 and 1", f, share)
		}
		total += share
	}
	if total > 1+1e-9 {
		return fmt.Errorf("the shares add up to %.4g, more than 1", total)
	}
	return nil
}

// String returns the mix in the form ParseFailMix reads, faults in the order of
// Faults, without the zero shares.
func (m FailMix) String() string {
	var parts []string
	for _, f := range Faults() {
		if m[f] > 0 {
			parts = append(parts, string(f)+"="+strconv.FormatFloat(m[f], 'g', -1, 64))
		}
	}
	return strings.Join(parts, ",")
}

type faultShare struct {
	fault Fault
	share float64
}

// failShares merges FailRate into FailMix (as its 503 share, unless FailMix gives
// one) and checks the result.
func (o Options) failShares() ([]faultShare, error) {
	if math.IsNaN(o.FailRate) || o.FailRate < 0 || o.FailRate > 1 {
		return nil, fmt.Errorf("vtsim: FailRate %v: it must be between 0 and 1", o.FailRate)
	}
	m := FailMix{}
	for f, v := range o.FailMix {
		m[f] = v
	}
	if _, ok := m[Fault503]; !ok && o.FailRate > 0 {
		m[Fault503] = o.FailRate
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("vtsim: failure mix: %w", err)
	}
	var out []faultShare
	for _, f := range Faults() {
		if m[f] > 0 {
			out = append(out, faultShare{f, m[f]})
		}
	}
	return out, nil
}

// badGatewayPage is the page a proxy (nginx here) answers when VirusTotal is out of
// its reach.
const badGatewayPage = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" +
	"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

// forbiddenPage is the page a proxy or a web application firewall (nginx here)
// answers when it refuses a request.
const forbiddenPage = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n" +
	"<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

// writeHTML answers status with an HTML page.
func writeHTML(w http.ResponseWriter, status int, page string) {
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(status)
	fmt.Fprint(w, page)
}

// writeFault answers an injected failure. The JSON messages are those of
// VirusTotal's error table (https://docs.virustotal.com/reference/errors).
func writeFault(w http.ResponseWriter, f Fault) {
	switch f {
	case Fault503:
		writeError(w, http.StatusServiceUnavailable, codeTransient, "Transient server error. Retry might work.")
	case Fault504:
		writeError(w, http.StatusGatewayTimeout, codeDeadline, "The operation took too long to complete.")
	case Fault429:
		writeError(w, http.StatusTooManyRequests, codeTooMany, "Too many requests.")
	case Fault502HTML:
		writeHTML(w, http.StatusBadGateway, badGatewayPage)
	case Fault403HTML:
		writeHTML(w, http.StatusForbidden, forbiddenPage)
	case Fault404:
		writeError(w, http.StatusNotFound, codeNotFound, "The requested resource was not found.")
	}
}
