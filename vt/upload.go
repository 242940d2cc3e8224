package vt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// Size limits of uploads.
const (
	MaxDirectUpload int64 = 32 << 20  // POST /files takes files up to 32 MB
	MaxUpload       int64 = 650 << 20 // through /files/upload_url, up to 650 MB
)

// UploadFile uploads size bytes read from r as a file called name, streaming them
// (never holding the file in memory): directly up to MaxDirectUpload, through an upload
// URL above; over MaxUpload it fails before anything is sent. An upload is not retried
// once its body has started to leave.
//
// The multipart body is the multipart headers, then r's bytes as they are read, then
// the closing boundary, with an exact Content-Length; r must yield exactly size bytes
// (fewer or more fails the upload). For uploads above MaxDirectUpload the client first
// asks GET /files/upload_url; the URL it gets must use the server's scheme, and the API
// key is sent to it only when it is on the server's host; the Limiter sees that second
// request as "POST {upload_url}". Uploads have no per-attempt timeout: ctx bounds them.
func (c *Client) UploadFile(ctx context.Context, r io.Reader, name string, size int64) (*AnalysisDescriptor, error) {
	if r == nil {
		return nil, invalidArgf("upload: nil reader")
	}
	if size < 0 {
		return nil, invalidArgf("upload: negative size %d", size)
	}
	if size > MaxUpload {
		return nil, invalidArgf("upload: the file is %d bytes, over VirusTotal's limit of %d bytes (650 MB)", size, MaxUpload)
	}
	prefix, suffix, ctype, err := multipartFrame(uploadName(name))
	if err != nil {
		return nil, err
	}
	total := int64(len(prefix)) + size + int64(len(suffix))

	req := &request{method: http.MethodPost, noTimeout: true}
	if size <= MaxDirectUpload {
		req.endpoint, req.path = "POST /files", "/files"
	} else {
		u, err := c.uploadURL(ctx)
		if err != nil {
			return nil, err
		}
		req.endpoint, req.absURL = "POST {upload_url}", u
		req.noKey = !sameOrigin(u, c.server)
	}
	body := &exactReader{r: r, n: size}
	req.stream = func() (io.Reader, string, int64) {
		return io.MultiReader(bytes.NewReader(prefix), body, bytes.NewReader(suffix)), ctype, total
	}
	res, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	return decodeWith(c, req, res, decodeDescriptorBody)
}

// uploadURL asks GET /files/upload_url and checks the URL it returns.
func (c *Client) uploadURL(ctx context.Context) (*url.URL, error) {
	r := &request{method: http.MethodGet, endpoint: "GET /files/upload_url", path: "/files/upload_url"}
	res, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	s, err := decodeWith(c, r, res, decodeUploadURLBody)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return nil, c.malformed(r, res, errors.New("the upload URL is not an absolute URL with a host"))
	}
	if !strings.EqualFold(u.Scheme, c.server.Scheme) {
		return nil, c.malformed(r, res, fmt.Errorf("the upload URL's scheme %q differs from the server's %q", u.Scheme, c.server.Scheme))
	}
	return u, nil
}

// uploadName keeps the last element of a path as the file's name.
func uploadName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if name == "" {
		return "file"
	}
	return name
}

// multipartFrame returns what goes before and after the file's bytes in a
// multipart/form-data body with one "file" part.
func multipartFrame(name string) (prefix, suffix []byte, contentType string, err error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if _, err := mw.CreateFormFile("file", name); err != nil {
		return nil, nil, "", err
	}
	prefix = bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := mw.Close(); err != nil {
		return nil, nil, "", err
	}
	return prefix, bytes.Clone(buf.Bytes()), mw.FormDataContentType(), nil
}

// exactReader yields exactly n bytes of r and fails if r has fewer or more.
type exactReader struct {
	r       io.Reader
	n, read int64
	checked bool
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.read >= e.n {
		if !e.checked {
			e.checked = true
			var one [1]byte
			if k, _ := e.r.Read(one[:]); k > 0 {
				return 0, fmt.Errorf("virustotal: upload: the reader holds more than the %d bytes announced", e.n)
			}
		}
		return 0, io.EOF
	}
	if rem := e.n - e.read; int64(len(p)) > rem {
		p = p[:rem]
	}
	k, err := e.r.Read(p)
	e.read += int64(k)
	if err == io.EOF {
		if e.read < e.n {
			return k, fmt.Errorf("virustotal: upload: the reader ended after %d of the %d bytes announced: %w", e.read, e.n, io.ErrUnexpectedEOF)
		}
		err = nil
	}
	return k, err
}
