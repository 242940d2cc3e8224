package command

import (
	"encoding/json"
	"testing"
)

// BenchmarkPrepareBody is the work of a REST command's request before it runs: its
// body decoded, its command looked up and the request checked.
func BenchmarkPrepareBody(b *testing.B) {
	body := []byte(`{"connection": "emu", "inputs": ["44d88612fea8a8f36de82e1278abb02f"]}`)
	b.ReportAllocs()
	for b.Loop() {
		var req Request
		if err := json.Unmarshal(body, &req); err != nil {
			b.Fatal(err)
		}
		var conn string
		req.Take("connection", &conn)
		req.Command = "check-file-reputation"
		if _, err := Prepare(req); err != nil {
			b.Fatal(err)
		}
	}
}
