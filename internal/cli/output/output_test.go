package output

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/command"
)

func sample() *command.Envelope {
	return &command.Envelope{
		Command: "check-file-reputation", ReturnData: command.PartiallySuccessful,
		KeyFields: map[string]any{"RiskLevels": []string{"High", "N/A"}},
		ContextData: []command.ContextEntry{
			{Input: "44d88612fea8a8f36de82e1278abb02f", Status: "ok", Type: "file", ID: "275a", RiskLevel: "High", RiskLevelCode: 1,
				RiskReason: "62 of 72 engines flag it malicious; High from 10", Fields: command.JSONFields{"md5": "44d8", "stats": map[string]int{"malicious": 62}}},
			{Input: "0000", Status: "error", RiskLevel: "N/A", RiskLevelCode: 4, Error: "File Not Found."},
		},
		Errors: []command.ErrorEntry{{Input: "0000", FailureIndicator: "Check File Reputation failed.", StatusCode: 404, Code: "NotFoundError", Message: "File Not Found."}},
	}
}

func TestTableColour(t *testing.T) {
	var plain, colour bytes.Buffer
	if err := Table(&plain, sample(), false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("colour codes without colour")
	}
	for _, want := range []string{"INPUT", "RISK", "High", "File Not Found.", "Partially Successful: 1 of 2 inputs succeeded"} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, plain.String())
		}
	}
	lines := strings.Split(plain.String(), "\n")
	if strings.Index(lines[0], "RISK") != strings.Index(lines[1], "High") || strings.Index(lines[1], "High") != strings.Index(lines[2], "N/A") {
		t.Errorf("columns not aligned:\n%s", plain.String())
	}
	if err := Table(&colour, sample(), true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(colour.String(), levelColor["High"]+"High"+reset) {
		t.Errorf("High not coloured:\n%q", colour.String())
	}
}

func TestCSV(t *testing.T) {
	var b bytes.Buffer
	if err := CSV(&b, sample()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != "input,status,type,id,risk_level,risk_level_code,risk_reason,error,md5,stats" {
		t.Fatalf("rows %v", rows)
	}
	if rows[1][9] != `{"malicious":62}` || rows[2][7] != "File Not Found." || rows[2][8] != "" {
		t.Errorf("rows %v", rows)
	}
}

func TestYAMLKeepsOrder(t *testing.T) {
	var b bytes.Buffer
	if err := YAML(&b, sample()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "command: check-file-reputation\nreturn_data: Partially Successful\nkey_fields:") {
		t.Errorf("yaml:\n%s", b.String())
	}
	var back map[string]any
	if err := yaml.Unmarshal(b.Bytes(), &back); err != nil || len(back["context_data"].([]any)) != 2 {
		t.Errorf("yaml does not read back: %v", err)
	}
}

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, 3, 40)
	p.Add(1)
	p.Add(1)
	p.Add(1)
	if !strings.Contains(b.String(), "3/3 inputs") || !strings.HasPrefix(b.String(), "\r[") {
		t.Errorf("progress %q", b.String())
	}
	p.Done()
	if !strings.HasSuffix(b.String(), "\r") {
		t.Errorf("progress not cleared: %q", b.String())
	}
}

// lastFrame is the last bar drawn on out ("3/12 inputs"), "" when none.
func lastFrame(out string) string {
	frames := strings.Split(out, "\r")
	for i := len(frames) - 1; i >= 0; i-- {
		if _, label, ok := strings.Cut(frames[i], "] "); ok {
			return label
		}
	}
	return ""
}

// TestProgressShowsTheCountWhileInputsWait: inputs that finish within one throttle
// window are drawn when it ends, so that while the rest wait (a minute for the
// budget) the bar shows how many are done, not the first.
func TestProgressShowsTheCountWhileInputsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b iostreams.SyncBuffer
		p := NewProgress(&b, 12, 40)
		for range 4 {
			p.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
		if got := lastFrame(b.String()); got != "1/12 inputs" {
			t.Errorf("within the throttle window the bar shows %q, want the first draw, 1/12", got)
		}
		time.Sleep(time.Minute) // the budget's wait
		synctest.Wait()
		if got := lastFrame(b.String()); got != "4/12 inputs" {
			t.Errorf("a minute after 4 inputs finished the bar shows %q, want 4/12", got)
		}
		if n := strings.Count(b.String(), "\r["); n != 2 {
			t.Errorf("%d draws for 4 inputs in one window, want 2: %q", n, b.String())
		}
		p.Add(1)
		time.Sleep(time.Millisecond)
		p.Add(1) // throttled, then Done before its window ends
		p.Done()
		cleared := b.String()
		time.Sleep(time.Minute)
		synctest.Wait()
		if b.String() != cleared {
			t.Errorf("drawn after Done: %q", strings.TrimPrefix(b.String(), cleared))
		}
	})
}
