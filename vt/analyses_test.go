package vt

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAnalysisItemID(t *testing.T) {
	sha := "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	base := `{"data": {"type": "analysis", "id": "a1", %s "attributes": {"status": "completed", "stats": {"malicious": 3}}} %s}`
	for _, tc := range []struct {
		name, inData, outside, want string
	}{
		{"meta.file_info", "", `, "meta": {"file_info": {"sha256": "` + sha + `", "size": 68}}`, sha},
		{"meta.url_info", "", `, "meta": {"url_info": {"id": "cf4b367e", "url": "http://x/"}}`, "cf4b367e"},
		{"links.item", `"links": {"self": "s", "item": "https://www.virustotal.com/api/v3/files/` + sha + `"},`, "", sha},
		{"relationship item", `"relationships": {"item": {"data": {"type": "file", "id": "` + sha + `"}}},`, "", sha},
		{"none", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(strings.Replace(strings.Replace(base, "%s", tc.inData, 1), "%s", tc.outside, 1))
			c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, body) })
			a, err := c.GetAnalysis(context.Background(), "a1")
			if err != nil {
				t.Fatal(err)
			}
			if a.ItemID != tc.want || a.Status != AnalysisCompleted || a.Stats.Malicious != 3 {
				t.Errorf("ItemID %q status %q stats %+v", a.ItemID, a.Status, a.Stats)
			}
		})
	}
}

func TestRescanFile(t *testing.T) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, []byte(`{"data": {"type": "analysis", "id": "ZTRiNjgxZmJmZmRkZTNlM2YyODlkMzk5MTZhZjYwNDI6MTU3NzkwMDg1Mw=="}}`))
	})
	d, err := c.RescanFile(context.Background(), "44d88612fea8a8f36de82e1278abb02f")
	if err != nil || d.Type != "analysis" || !strings.HasPrefix(d.ID, "ZTRiNjgx") {
		t.Fatalf("RescanFile = %+v, %v", d, err)
	}
	wantRequest(t, rec.last(), "POST", "/api/v3/files/44d88612fea8a8f36de82e1278abb02f/analyse")
}

func analysisBody(status AnalysisStatus) []byte {
	return []byte(`{"data": {"type": "analysis", "id": "a1", "attributes": {"status": "` + string(status) + `", "stats": {"malicious": 2, "undetected": 60}}},
		"meta": {"file_info": {"sha256": "abc"}}}`)
}

func TestWaitAnalysisToleratesNotFoundAndTransient(t *testing.T) {
	var n atomic.Int32
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			answer(w, 404, []byte(`{"error":{"code":"NotFoundError","message":"Analysis \"a1\" not found"}}`))
		case 2:
			answer(w, 503, []byte(`{"error":{"code":"TransientError","message":"x"}}`))
		case 3:
			answer(w, 200, analysisBody(AnalysisQueued))
		case 4:
			answer(w, 200, analysisBody(AnalysisInProgress))
		default:
			answer(w, 200, analysisBody(AnalysisCompleted))
		}
	}, WithRetry(RetryPolicy{MaxAttempts: 1}))
	a, err := c.WaitAnalysis(context.Background(), "a1", WaitOptions{Interval: time.Millisecond, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("WaitAnalysis: %v", err)
	}
	if a.Status != AnalysisCompleted || a.ItemID != "abc" || a.Stats.Malicious != 2 || rec.count() != 5 {
		t.Errorf("analysis %+v after %d polls", a, rec.count())
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/analyses/a1")
}

func TestWaitAnalysisTimeout(t *testing.T) {
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, analysisBody(AnalysisQueued)) })
	a, err := c.WaitAnalysis(context.Background(), "a1", WaitOptions{Interval: 5 * time.Millisecond, Timeout: 60 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if a == nil || a.Status != AnalysisQueued {
		t.Errorf("last analysis %+v", a)
	}
	if !strings.Contains(err.Error(), "not completed") || !strings.Contains(err.Error(), "queued") || rec.count() < 2 {
		t.Errorf("err %q after %d polls", err, rec.count())
	}
}

func TestWaitAnalysisStopsOnOtherErrors(t *testing.T) {
	var n atomic.Int32
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			answer(w, 200, analysisBody(AnalysisQueued))
			return
		}
		answer(w, 401, []byte(`{"error":{"code":"WrongCredentialsError","message":"Wrong API key"}}`))
	})
	a, err := c.WaitAnalysis(context.Background(), "a1", WaitOptions{Interval: time.Millisecond, Timeout: 10 * time.Second})
	if !IsWrongCredentials(err) || a == nil || a.Status != AnalysisQueued || rec.count() != 2 {
		t.Errorf("WaitAnalysis = %+v, %v after %d polls", a, err, rec.count())
	}
}

func TestWaitAnalysisCallerCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		answer(w, 200, analysisBody(AnalysisQueued))
	})
	_, err := c.WaitAnalysis(ctx, "a1", WaitOptions{Interval: time.Hour, Timeout: time.Hour})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}
