package gateway

import "sync"

// flights are the upstream requests in progress, by connection and canonical request,
// so that identical requests share one. A flight's answer reaches every request that
// joined it as soon as it comes; the flight stays joinable until the answer is
// stored, so that a request arriving in between neither misses the cache nor asks
// again. (golang.org/x/sync/singleflight forgets a call when its function returns,
// which would leave that window open.)
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one upstream request; ans and err are set before done is closed.
type flight struct {
	done chan struct{}
	ans  *answer
	err  error
}

// join returns the flight of key and whether the caller leads it: the leader runs
// the request, calls finish with its outcome, and end once it is stored.
func (fs *flights) join(key string) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		return f, false
	}
	if fs.m == nil {
		fs.m = map[string]*flight{}
	}
	f := &flight{done: make(chan struct{})}
	fs.m[key] = f
	return f, true
}

// finish hands the outcome to every request of the flight.
func (f *flight) finish(ans *answer, err error) {
	f.ans, f.err = ans, err
	close(f.done)
}

// end closes the flight of key to new requests.
func (fs *flights) end(key string, f *flight) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
}
