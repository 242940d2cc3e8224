package vt

import (
	"context"
	"net/http"
	"testing"
)

// BenchmarkDecodeFileReport decodes the largest report fixture (93 KB) into a File.
func BenchmarkDecodeFileReport(b *testing.B) {
	body := fixture(b, "file_report_crowdsourced.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		f, err := decodeFileBody(body)
		if err != nil || f.Attributes.LastAnalysisStats.Malicious != 54 {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBehaviourSummary decodes the 187 KB behaviour summary in its envelope.
func BenchmarkDecodeBehaviourSummary(b *testing.B) {
	raw := fixture(b, "behaviour_summary_data_only_msticpy.json")
	body := append(append([]byte(`{"data": `), raw...), '}')
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		s, err := decodeBehaviourBody(body)
		if err != nil || len(s.Verdicts) != 1 {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetFile is GetFile of the 93 KB report through the real HTTP stack.
func BenchmarkGetFile(b *testing.B) {
	body := fixture(b, "file_report_crowdsourced.json")
	c, _, _ := serve(b, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := c.GetFile(ctx, "6b60666d6ace3a450d54fe7b915c46632172ca0d4127d87873f0c111560e66cb"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFileReportWithoutEngineResults is BenchmarkDecodeFileReport with
// WithoutEngineResults, as the reputation commands ask.
func BenchmarkDecodeFileReportWithoutEngineResults(b *testing.B) {
	body := fixture(b, "file_report_crowdsourced.json")
	extra := decodeOptions([]GetOption{WithoutEngineResults()})
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		f, err := decodeFileBody(body, extra...)
		if err != nil || f.Attributes.LastAnalysisStats.Malicious != 54 {
			b.Fatal(err)
		}
	}
}
