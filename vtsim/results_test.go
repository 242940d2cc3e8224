package vtsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
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
		// Scans in another order, or only some of them, come out in name order too.
		reversed := fileScans(d, v, false, false, "Agent", "trojan")
		slices.Reverse(reversed)
		some := networkScans(d, v)[i%7:]
		for _, tc := range []struct {
			scans []scan
			file  bool
		}{{fileScans(d, v, i%2 == 0, false, "Agent", "trojan"), true}, {networkScans(d, v), false},
			{reversed, true}, {some, false}} {
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

// Engine names are unique within each table: last_analysis_results is keyed by them
// (engineResults relies on it).
func TestEngineNamesUnique(t *testing.T) {
	for _, table := range [][]engine{fileEngines, networkEngines} {
		seen := map[string]bool{}
		for _, e := range table {
			if seen[e.name] {
				t.Fatalf("engine %q appears twice", e.name)
			}
			seen[e.name] = true
		}
	}
}
