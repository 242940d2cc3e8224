// Package pipenet is an in-memory network for tests: a net.Listener whose connections
// are net.Pipe pairs, and the dialer that reaches it. Servers and clients of the real
// net/http (or SMTP) stack run over it unchanged.
//
// Its reason to exist is testing/synctest: a goroutine blocked on a real socket is
// not "durably blocked", so a bubble's fake clock never advances while an HTTP
// client keeps an idle connection open. A goroutine blocked on a pipe is, so servers
// and clients started inside a bubble over pipenet let its time run.
package pipenet

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// Listener is an in-memory net.Listener. The zero value is not usable; call Listen.
type Listener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	addr  addr
}

// Listen returns a listener whose address is name (any string; it is what Addr
// reports and what a URL's host may say).
func Listen(name string) *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{}), addr: addr(name)}
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener; blocked Accept and Dial calls return net.ErrClosed.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the listener's name.
func (l *Listener) Addr() net.Addr { return l.addr }

// DialContext connects to the listener, whatever network and address it is given
// (the signature of net.Dialer.DialContext and http.Transport.DialContext).
func (l *Listener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// HTTPClient returns an HTTP client whose every connection goes to l.
func (l *Listener) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: l.DialContext, ForceAttemptHTTP2: false}}
}

// Serve serves h on a new listener named name until the returned stop is called
// (which closes the server and its connections). The URL to use is "http://" + name.
func Serve(name string, h http.Handler) (*Listener, func()) {
	l := Listen(name)
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	return l, func() {
		srv.Close()
		<-done
	}
}

type addr string

func (a addr) Network() string { return "pipe" }
func (a addr) String() string  { return string(a) }
