package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// vtError writes VirusTotal's error answer: {"error": {"code", "message"}} with the
// status VirusTotal gives that code, and Retry-After (whole seconds, at least 1) when
// retryAfter is positive.
func vtError(w http.ResponseWriter, status int, code, message string, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10))
	}
	writeJSON(w, status, errorBody(code, message))
}

// errorBody is VirusTotal's error document.
func errorBody(code, message string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{Error: struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, message}})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// writeJSON writes a JSON answer with its length.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// refusal is a request the gateway answers itself, with VirusTotal's error.
type refusal struct {
	status     int
	code       string
	message    string
	retryAfter time.Duration
	// reason labels the refusal in the metrics: "budget", "premium", "credentials",
	// "unavailable".
	reason string
}

func (r *refusal) Error() string { return r.code + ": " + r.message }

func (r *refusal) write(w http.ResponseWriter) {
	vtError(w, r.status, r.code, r.message, r.retryAfter)
}
