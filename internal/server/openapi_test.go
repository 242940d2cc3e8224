package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/vtsoar/vtsoar/internal/server"
)

// oas is the served OpenAPI document, loaded and checked once, with a router over its
// paths.
var oas struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func loadOpenAPI(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	oas.once.Do(func() {
		// The console answers HTML, which the validator has no decoder for: take it as
		// a string.
		openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
		ld := openapi3.NewLoader()
		doc, err := ld.LoadFromData(server.OpenAPI())
		if err != nil {
			oas.err = fmt.Errorf("load: %w", err)
			return
		}
		if !doc.IsOpenAPI31OrLater() {
			oas.err = fmt.Errorf("the document is OpenAPI %s, want 3.1", doc.OpenAPI)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			oas.err = fmt.Errorf("validate: %w", err)
			return
		}
		oas.doc = doc
		oas.router, oas.err = gorillamux.NewRouter(doc)
	})
	if oas.err != nil {
		t.Fatalf("openapi.json: %v", oas.err)
	}
	return oas.doc, oas.router
}

// docPath is the document's path of a mux pattern's path ("/{$}" is "/").
func docPath(muxPath string) string {
	if muxPath == "/{$}" {
		return "/"
	}
	return strings.ReplaceAll(muxPath, "{$}", "")
}

// checkAnswer validates an answer of the server against the OpenAPI document: the
// route must be documented (else only the mux's own 404 and 405 are allowed), the
// status documented for it, and the body valid against the documented schema of its
// media type. For a 2xx answer, the request must be valid too: what the server took,
// the document must allow. It returns the documented "METHOD /path", or "".
func checkAnswer(t testing.TB, req *http.Request, reqBody []byte, res *http.Response, body []byte) string {
	t.Helper()
	if strings.HasPrefix(req.URL.Path, "/api/v3/") {
		return "" // the VirusTotal gateway: VirusTotal's API, which VirusTotal documents
	}
	_, router := loadOpenAPI(t)
	route, params, err := router.FindRoute(req)
	if err != nil {
		if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed {
			return "" // no such endpoint: the answer is the server's catch-all
		}
		t.Fatalf("%s %s answered %d but is not in openapi.json: %v", req.Method, req.URL.Path, res.StatusCode, err)
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if res.StatusCode < 300 {
		// The request as sent, with its body again.
		r2 := req.Clone(ctx)
		r2.Body = io.NopCloser(bytes.NewReader(reqBody))
		in2 := *in
		in2.Request = r2
		if err := openapi3filter.ValidateRequest(ctx, &in2); err != nil {
			t.Errorf("%s %s: the server took a request that openapi.json refuses: %v", req.Method, req.URL.Path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode,
		Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)), Options: opts}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("%s %s: answer %d does not match openapi.json: %v\nbody: %.600s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
	return route.Method + " " + route.Path
}

// TestOpenAPIDocumentsEveryRoute checks that the routes the server registers (from the
// one table in server.go) and the operations of openapi.json are the same.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	e := newEnv(t, envOpts{})
	var served []string
	for _, rt := range e.srv.Routes() {
		method, path, _ := strings.Cut(rt, " ")
		served = append(served, method+" "+docPath(path))
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(served)
	slices.Sort(documented)
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("%s is served but not in openapi.json", s)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("%s is in openapi.json but not served", d)
		}
	}
	if len(served) < 20 {
		t.Fatalf("only %d routes: %v", len(served), served)
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.do(t, "GET", "/api/v1/openapi.json", "", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET openapi.json = %d %s", r.status, r.header.Get("Content-Type"))
	}
	if !bytes.Equal(r.body, server.OpenAPI()) {
		t.Fatal("the served document is not the embedded one")
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	r.json(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
}

// TestOpenAPILicense holds the document's license to the repository's LICENSE: the
// Apache License 2.0, by its SPDX identifier.
func TestOpenAPILicense(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	if l := doc.Info.License; l == nil || l.Name != "Apache-2.0" || l.Identifier != "Apache-2.0" {
		t.Errorf("info.license = %+v, want Apache-2.0 (identifier Apache-2.0)", l)
	}
}
