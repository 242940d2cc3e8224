package export_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/export"
	"github.com/vtsoar/vtsoar/internal/export/exporttest"
)

// The observations of a run's envelope are read from the reports the run decoded, not
// from raw_data again; an envelope decoded from JSON gives the same ones from raw_data.
func TestObservationsReadTheRunsReports(t *testing.T) {
	env := exporttest.Lookup(t, "44d88612fea8a8f36de82e1278abb02f", "45.61.136.22", "evil-c2.net", "hxxp://185.220.101[.]4:8080/gate.php", "nonsense")
	want, err := export.Observations(env)
	if err != nil || len(want) != 4 {
		t.Fatalf("observations: %d, %v", len(want), err)
	}
	noRaw := *env
	noRaw.RawData = make([]json.RawMessage, len(env.RawData))
	for i := range noRaw.RawData {
		noRaw.RawData[i] = json.RawMessage("null")
	}
	if got, err := export.Observations(&noRaw); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("without raw_data: %+v, %v\nwant %+v", got, err, want)
	}
	var b bytes.Buffer
	if err := env.WriteJSON(&b, command.JSONFormat{}); err != nil {
		t.Fatal(err)
	}
	var decoded command.Envelope
	if err := json.Unmarshal(b.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if got, err := export.Observations(&decoded); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("decoded from JSON: %+v, %v\nwant %+v", got, err, want)
	}
}
