package vt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDownloadFileFollowsTheSignedURL(t *testing.T) {
	content := bytes.Repeat([]byte("sample bytes "), 1000)
	sum := sha256.Sum256(content)
	id := hex.EncodeToString(sum[:])
	var storageKey string
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		storageKey = r.Header.Get("x-apikey")
		if r.URL.Path == "/wrong" {
			w.Write([]byte("not the file"))
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(content)
	}))
	t.Cleanup(storage.Close)
	c, rec, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/forbidden/download"):
			answer(w, 403, []byte(`{"error":{"code":"ForbiddenError","message":"You are not authorized to perform the requested operation"}}`))
		case strings.Contains(r.URL.Path, "/"+id+"/"):
			http.Redirect(w, r, storage.URL+"/sample?sig=x", http.StatusFound)
		default:
			http.Redirect(w, r, storage.URL+"/wrong", http.StatusFound)
		}
	})
	var buf bytes.Buffer
	n, err := c.DownloadFile(context.Background(), id, &buf)
	if err != nil || n != int64(len(content)) || !bytes.Equal(buf.Bytes(), content) {
		t.Fatalf("DownloadFile = %d, %v (%d bytes)", n, err, buf.Len())
	}
	wantRequest(t, rec.last(), "GET", "/api/v3/files/"+id+"/download")
	if storageKey != "" {
		t.Error("the API key was sent to the signed URL's host")
	}
	other := strings.Repeat("ab", 32)
	if _, err := c.DownloadFile(context.Background(), other, &bytes.Buffer{}); !errors.Is(err, ErrContentMismatch) {
		t.Errorf("bytes that do not hash to the id: %v", err)
	}
	if _, err := c.DownloadFile(context.Background(), "forbidden", &bytes.Buffer{}); !IsForbidden(err) {
		t.Errorf("public key: %v", err)
	}
	if _, err := c.DownloadFile(context.Background(), id, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil writer: %v", err)
	}
}

func TestOverallQuotasErrorsHideTheKey(t *testing.T) {
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, 404, []byte(`{"error":{"code":"NotFoundError","message":"User `+testKey+` not found"}}`))
	})
	_, err := c.GetOverallQuotas(context.Background(), testKey)
	if !IsNotFound(err) {
		t.Fatalf("err = %v", err)
	}
	mustNotContainKey(t, "error", err.Error())
}
