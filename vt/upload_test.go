package vt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// genReader yields n pseudo-random bytes without holding them.
type genReader struct {
	n, off int64
	x      uint64
}

func newGen(n int64) *genReader { return &genReader{n: n, x: 0x9E3779B97F4A7C15} }

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	if rem := g.n - g.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	for i := range p {
		g.x ^= g.x << 13
		g.x ^= g.x >> 7
		g.x ^= g.x << 17
		p[i] = byte(g.x)
	}
	g.off += int64(len(p))
	return len(p), nil
}

func genSHA256(n int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, newGen(n))
	return hex.EncodeToString(h.Sum(nil))
}

// receiveUpload streams a multipart upload into a hash; it never holds the file.
type upload struct {
	filename      string
	size          int64
	sum           string
	key           string
	contentLength int64
}

func receiveUpload(r *http.Request) (upload, error) {
	u := upload{key: r.Header.Get("X-Apikey"), contentLength: r.ContentLength}
	mr, err := r.MultipartReader()
	if err != nil {
		return u, err
	}
	part, err := mr.NextPart()
	if err != nil {
		return u, err
	}
	if part.FormName() != "file" {
		return u, fmt.Errorf("part %q", part.FormName())
	}
	u.filename = part.FileName()
	var h hash.Hash = sha256.New()
	u.size, err = io.Copy(h, part)
	if err != nil {
		return u, err
	}
	u.sum = hex.EncodeToString(h.Sum(nil))
	if _, err := mr.NextPart(); err != io.EOF {
		return u, fmt.Errorf("more than one part: %v", err)
	}
	return u, nil
}

func TestUploadDirect(t *testing.T) {
	const size = 1 << 20
	var got upload
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		var err error
		if got, err = receiveUpload(r); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		answer(w, 200, []byte(`{"data": {"type": "analysis", "id": "NjY0MjRlOTFjMDIyYTkyNWM0NjU2NWQzYWNlMzFmZmI6MTQ3NTA0ODI3Nw=="}}`))
	})
	d, err := c.UploadFile(context.Background(), newGen(size), `C:\samples\evil "x".exe`, size)
	if err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	wantRequest(t, rec.last(), "POST", "/api/v3/files")
	if d.ID != "NjY0MjRlOTFjMDIyYTkyNWM0NjU2NWQzYWNlMzFmZmI6MTQ3NTA0ODI3Nw==" || d.Type != "analysis" {
		t.Errorf("descriptor %+v", d)
	}
	if got.size != size || got.sum != genSHA256(size) || got.filename != `evil "x".exe` {
		t.Errorf("server got %+v", got)
	}
	if got.contentLength <= size || got.contentLength > size+1024 {
		t.Errorf("Content-Length %d: the body length must be announced exactly", got.contentLength)
	}
}

func TestUploadThroughUploadURL(t *testing.T) {
	const size = 40 << 20 // above MaxDirectUpload
	var got upload
	var srvURL string
	spy := &limiterSpy{}
	c, rec, srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "GET" && r.URL.Path == "/api/v3/files/upload_url":
			answer(w, 200, []byte(`{"data": "`+srvURL+`/_ah/upload/AMmfu6b?x=1"}`))
		case r.Method == "POST" && r.URL.Path == "/_ah/upload/AMmfu6b":
			var err error
			if got, err = receiveUpload(r); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			answer(w, 200, []byte(`{"data": {"type": "analysis", "id": "big"}}`))
		default:
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, 500)
		}
	}, WithLimiter(spy))
	srvURL = srv.URL
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d, err := c.UploadFile(context.Background(), newGen(size), "big.bin", size)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	if d.ID != "big" || rec.count() != 2 {
		t.Errorf("descriptor %+v after %d requests", d, rec.count())
	}
	if got.size != size || got.sum != genSHA256(size) || got.key != testKey {
		t.Errorf("server got size %d sum %s key sent %v", got.size, got.sum, got.key != "")
	}
	if len(spy.waits) != 2 || spy.waits[0].Endpoint != "GET /files/upload_url" || spy.waits[1].Endpoint != "POST {upload_url}" {
		t.Errorf("limiter saw %+v", spy.waits)
	}
	// Client and test server together allocated far less than the file: nothing held it.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Errorf("uploading %d MB allocated %d MB: the file was buffered", size>>20, alloc>>20)
	} else {
		t.Logf("uploading %d MB allocated %d KB in client and server", size>>20, alloc>>10)
	}
}

func TestUploadURLOnOtherHostGetsNoKey(t *testing.T) {
	var got upload
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = receiveUpload(r)
		answer(w, 200, []byte(`{"data": {"type": "analysis", "id": "elsewhere"}}`))
	}))
	defer storage.Close()
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, []byte(`{"data": "`+storage.URL+`/upload"}`))
	})
	size := MaxDirectUpload + 1
	d, err := c.UploadFile(context.Background(), newGen(size), "f", size)
	if err != nil || d.ID != "elsewhere" {
		t.Fatalf("UploadFile = %+v, %v", d, err)
	}
	if got.key != "" || got.size != size {
		t.Errorf("storage host got key %v, %d bytes", got.key != "", got.size)
	}
}

func TestUploadURLRefused(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"other scheme", `"https://www.virustotal.com/_ah/upload/x"`},
		{"relative", `"/_ah/upload/x"`},
		{"not a string", `{"url": "x"}`},
		{"empty", `""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
				answer(w, 200, []byte(`{"data": `+tc.data+`}`))
			})
			_, err := c.UploadFile(context.Background(), newGen(MaxDirectUpload+1), "f", MaxDirectUpload+1)
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidResponse || e.Path != "/files/upload_url" {
				t.Errorf("err = %v", err)
			}
			if rec.count() != 1 {
				t.Errorf("%d requests; the upload must not start", rec.count())
			}
		})
	}
}

type failingReader struct{ t *testing.T }

func (f failingReader) Read([]byte) (int, error) {
	f.t.Error("the reader was read")
	return 0, io.EOF
}

func TestUploadTooLargeRefusedBeforeSending(t *testing.T) {
	spy := &limiterSpy{}
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, nil) }, WithLimiter(spy))
	_, err := c.UploadFile(context.Background(), failingReader{t}, "huge.iso", MaxUpload+1)
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "650 MB") {
		t.Errorf("err = %v", err)
	}
	if _, err := c.UploadFile(context.Background(), failingReader{t}, "neg", -1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("negative size: %v", err)
	}
	if rec.count() != 0 || len(spy.waits) != 0 {
		t.Errorf("%d requests, %d limiter waits", rec.count(), len(spy.waits))
	}
}

func TestUploadReaderSizeMismatch(t *testing.T) {
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		answer(w, 200, []byte(`{"data": {"type": "analysis", "id": "x"}}`))
	})
	_, err := c.UploadFile(context.Background(), newGen(500), "short", 1000)
	if err == nil || !strings.Contains(err.Error(), "ended after 500 of the 1000 bytes") {
		t.Errorf("short reader: %v", err)
	}
	_, err = c.UploadFile(context.Background(), newGen(2000), "long", 1000)
	if err == nil || !strings.Contains(err.Error(), "more than the 1000 bytes") {
		t.Errorf("long reader: %v", err)
	}
}

func TestUploadNotRetriedOnceBodyStarted(t *testing.T) {
	spy := &limiterSpy{}
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		answer(w, 503, []byte(`{"error":{"code":"TransientError","message":"x"}}`))
	}, WithLimiter(spy))
	_, err := c.UploadFile(context.Background(), newGen(4096), "f", 4096)
	if !IsTransient(err) || rec.count() != 1 || len(spy.waits) != 1 {
		t.Errorf("err %v after %d requests; a sent upload body must not be sent again", err, rec.count())
	}
}

func TestUploadRetriedWhenNothingWasSent(t *testing.T) {
	spy := &limiterSpy{}
	c, err := New(testKey, WithServerURL("http://"+closedAddr(t)), WithLimiter(spy),
		WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(4096)
	if _, err := c.UploadFile(context.Background(), g, "f", 4096); err == nil {
		t.Fatal("no error")
	}
	if len(spy.waits) != 2 || g.off != 0 {
		t.Errorf("%d attempts, %d bytes read; a refused connection reads nothing and may be retried", len(spy.waits), g.off)
	}
}

func TestUploadName(t *testing.T) {
	for in, want := range map[string]string{"": "file", "a/b/c.exe": "c.exe", `x\y.dll`: "y.dll", "bad\nname": "badname", "dir/": "file"} {
		if got := uploadName(in); got != want {
			t.Errorf("uploadName(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkUploadDirect reports the bytes allocated per upload of 16 MB (client and
// test server together): far below the file's size because nothing buffers it.
func BenchmarkUploadDirect(b *testing.B) {
	const size = 16 << 20
	c, _, _ := serve(b, func(w http.ResponseWriter, r *http.Request) {
		if _, err := receiveUpload(r); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		answer(w, 200, []byte(`{"data": {"type": "analysis", "id": "x"}}`))
	})
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		if _, err := c.UploadFile(context.Background(), newGen(size), "f", size); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "file-bytes")
}
