package vtsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// last_analysis_results encodes exactly as the map of maps it stands for (keys in
// order), for file and network engines alike.
func TestResultsEncodeAsMaps(t *testing.T) {
	updated := time.Now().Unix()
	for i := range 50 {
		d := digestOf(fmt.Sprint("results-", i))
		v := d.verdict(len(fileEngines))
		for _, tc := range []struct {
			scans []scan
			file  bool
		}{{fileScans(d, v, i%2 == 0, false, "Agent", "trojan"), true}, {networkScans(d, v), false}} {
			want := map[string]any{}
			for _, s := range tc.scans {
				m := map[string]any{"category": s.category, "engine_name": s.engine.name, "method": "blacklist", "result": s.result}
				if tc.file {
					m["engine_version"] = s.engine.version
					m["engine_update"] = ymd(updated - int64(len(s.engine.name)%2)*86400)
				}
				want[s.engine.name] = m
			}
			wb, _ := json.Marshal(want)
			gb, err := json.Marshal(resultsOf(tc.scans, tc.file, updated))
			if err != nil || !bytes.Equal(gb, wb) {
				t.Fatalf("digest %d, file %v: %v\n got %s\nwant %s", i, tc.file, err, gb, wb)
			}
		}
	}
}
