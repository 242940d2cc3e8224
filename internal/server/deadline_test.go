package server_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A client that sends its body a byte at a time is cut off at the read deadline on
// every route: the console's sign-in form and signed-in forms as well as the API. The
// deadline is the server's Config.BodyReadTimeout, short here; the client would need
// 100 s to send its body.
func TestSlowBodyIsCut(t *testing.T) {
	const deadline = 300 * time.Millisecond
	e := newEnv(t, envOpts{bodyReadTimeout: deadline})
	host := strings.TrimPrefix(e.http.URL, "http://")
	for _, tc := range []struct {
		path, ctype string
		header      string
	}{
		{"/login", "application/x-www-form-urlencoded", ""},
		{"/connections/new", "application/x-www-form-urlencoded", "Cookie: " + e.consoleCookie(t, "admin") + "\r\n"},
		{"/api/v1/connections", "application/json", "Authorization: Bearer " + e.tokens["admin"] + "\r\n"},
		{"/api/v3/urls", "application/x-www-form-urlencoded", "X-Apikey: " + e.gatewayKey(t, "slow", "emu", nil) + "\r\n"},
	} {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		const size = 1000
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n", tc.path, host, tc.ctype, size, tc.header)
		// Dribble the body, a byte every 100 ms, until the server answers or closes.
		stop := make(chan struct{})
		sent := make(chan int, 1)
		go func() {
			n := 0
			defer func() { sent <- n }()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for n < size {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
				n++
			}
		}()
		conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // the test's own guard
		start := time.Now()
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		took := time.Since(start)
		close(stop)
		n := <-sent
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("POST %s: no answer after %v of a dribbled body (%d bytes sent): the server did not cut it", tc.path, took, n)
			}
			// Closed without an answer: cut off too.
		} else {
			res.Body.Close()
			if res.StatusCode < 400 {
				t.Errorf("POST %s: %d for a body that never came", tc.path, res.StatusCode)
			}
		}
		if n >= size || took > 10*time.Second {
			t.Errorf("POST %s: the server read %d bytes over %v", tc.path, n, took)
		}
	}
}

// consoleCookie signs user in to the console over HTTP and returns the session
// cookie ("name=value").
func (e *env) consoleCookie(t *testing.T, user string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(e.http.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var csrf *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "vtsoar_login_csrf" {
			csrf = ck
		}
	}
	if csrf == nil {
		t.Fatal("no sign-in cookie")
	}
	req, _ := http.NewRequest("POST", e.http.URL+"/login", strings.NewReader(url.Values{"csrf": {csrf.Value}, "token": {e.tokens[user]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(csrf)
	res, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.Name == "vtsoar_session" && ck.Value != "" {
			return ck.Name + "=" + ck.Value
		}
	}
	t.Fatalf("sign-in as %s: %d, no session cookie", user, res.StatusCode)
	return ""
}
