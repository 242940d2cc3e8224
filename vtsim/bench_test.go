package vtsim

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// benchGetFile measures GET /files/{id} through a real loopback listener with parallel
// clients; ids(i) names the file of the i-th request.
func benchGetFile(b *testing.B, ids func(i int64) string) {
	srv := httptest.NewServer(MustNew(Options{}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", srv.URL+"/api/v3/files/"+ids(n.Add(1)), nil)
			req.Header.Set("x-apikey", testKey)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 && resp.StatusCode != 404 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkGetFile asks for the same file again and again (served from the render cache).
func BenchmarkGetFile(b *testing.B) {
	benchGetFile(b, func(int64) string { return eicarSHA256 })
}

// BenchmarkGetFileDistinct asks for a new file each time (rendered on every request).
func BenchmarkGetFileDistinct(b *testing.B) {
	benchGetFile(b, func(i int64) string { return sha256Hex(fmt.Sprint("bench-", i)) })
}
