package vtsim

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestParseFailMix(t *testing.T) {
	m, err := ParseFailMix(" 503=0.1, 504=0.05,429=0.05 ,502HTML=0.05")
	if err != nil || m[Fault503] != 0.1 || m[Fault504] != 0.05 || m[Fault429] != 0.05 || m[Fault502HTML] != 0.05 {
		t.Fatalf("ParseFailMix = %v, %v", m, err)
	}
	if m.String() != "503=0.1,504=0.05,429=0.05,502html=0.05" {
		t.Errorf("String() = %q", m.String())
	}
	if m, err := ParseFailMix(""); err != nil || len(m) != 0 {
		t.Errorf("empty mix: %v %v", m, err)
	}
	for in, want := range map[string]string{
		"503":              "not FAULT=SHARE",
		"500=0.1":          `unknown failure "500"`,
		"503=0.1,503=0.2":  "503 is given twice",
		"503=lots":         "must be a number between 0 and 1",
		"503=NaN":          "must be a number between 0 and 1",
		"503=1.5":          "between 0 and 1",
		"503=-0.1":         "between 0 and 1",
		"503=0.6,504=0.5":  "add up to 1.1, more than 1",
		"503=0.1,,504=0.1": "not FAULT=SHARE",
	} {
		if _, err := ParseFailMix(in); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), in) {
			t.Errorf("ParseFailMix(%q) = %v, want an error naming the input and saying %q", in, err, want)
		}
	}
	for _, opts := range []Options{{FailRate: 2}, {FailMix: FailMix{"418": 0.1}}, {FailRate: 0.6, FailMix: FailMix{Fault504: 0.5}}} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) accepted", opts)
		}
	}
}

// Each failure of the mix is answered as VirusTotal or a proxy answers it, in the
// shares asked, counted in the stats; the same seed gives the same failures.
func TestFailMixInjectsAndCounts(t *testing.T) {
	mix := FailMix{Fault503: 0.1, Fault504: 0.05, Fault429: 0.05, Fault502HTML: 0.05, Fault403HTML: 0.05, Fault404: 0.05}
	run := func() (map[int]int, string) {
		e := newEnv(t, Options{FailMix: mix, Seed: 7})
		got := map[int]int{}
		var seq strings.Builder
		for range 2000 {
			req, _ := http.NewRequest("GET", e.ts.URL+"/api/v3/files/"+eicarMD5, nil)
			req.Header.Set("x-apikey", testKey)
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got[resp.StatusCode]++
			fmt.Fprint(&seq, resp.StatusCode, " ")
			ct := resp.Header.Get("Content-Type")
			switch resp.StatusCode {
			case 502:
				if ct != "text/html" || !strings.Contains(string(b), "<h1>502 Bad Gateway</h1>") {
					t.Fatalf("502: %s %q", ct, b)
				}
			case 403:
				if ct != "text/html" || !strings.Contains(string(b), "<h1>403 Forbidden</h1>") {
					t.Fatalf("403: %s %q", ct, b)
				}
			case 404:
				if ct != "application/json" || !strings.Contains(string(b), `"NotFoundError"`) {
					t.Fatalf("404: %s %s", ct, b)
				}
			case 429:
				if !strings.Contains(string(b), `"TooManyRequestsError"`) {
					t.Fatalf("429 body %s", b)
				}
			case 503, 504:
				if ct != "application/json" {
					t.Fatalf("%d content type %s", resp.StatusCode, ct)
				}
			}
		}
		st := e.srv.Stats()
		for f, status := range map[Fault]string{Fault503: "503", Fault504: "504", Fault429: "429", Fault502HTML: "502",
			Fault403HTML: "403", Fault404: "404"} {
			if st.ByFault[string(f)] != st.ByStatus[status] || st.ByFault[string(f)] == 0 {
				t.Errorf("stats: %s injected %d, status %s counted %d", f, st.ByFault[string(f)], status, st.ByStatus[status])
			}
		}
		if u := st.ByUser[userID(keyHash(testKey))]; u != 2000 {
			t.Errorf("by_user %d, want every request", u)
		}
		return got, seq.String()
	}
	got, a := run()
	_, b := run()
	if a != b {
		t.Error("same seed, different failures")
	}
	for status, share := range map[int]float64{503: 0.1, 504: 0.05, 429: 0.05, 502: 0.05, 403: 0.05, 404: 0.05, 200: 0.65} {
		if want := share * 2000; float64(got[status]) < want*0.7 || float64(got[status]) > want*1.3 {
			t.Errorf("%d answers %d of 2000, want about %.0f", status, got[status], want)
		}
	}
	// FailRate is the 503 share when the mix has none.
	e := newEnv(t, Options{FailRate: 1, FailMix: FailMix{Fault504: 0}})
	if st, _ := e.get("/api/v3/files/" + eicarMD5); st != 503 {
		t.Errorf("FailRate 1: %d", st)
	}
}

// An injected failure spends no quota: after the failures the key still has its
// minute.
func TestInjectedFailuresSpendNoQuota(t *testing.T) {
	e := newEnv(t, Options{FailMix: FailMix{Fault504: 1}, QuotaMinute: 1})
	for range 5 {
		if st, _ := e.get("/api/v3/files/" + eicarMD5); st != 504 {
			t.Fatalf("status %d", st)
		}
	}
	if u := e.srv.usageOf(keyHash(testKey)); u.nMinute != 0 {
		t.Errorf("%d requests of the minute spent by failures", u.nMinute)
	}
}
