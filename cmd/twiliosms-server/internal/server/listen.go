package server

import (
	"net"
	"sync"
)

// DefaultMaxConnections is how many connections the server keeps open at
// once unless -max-connections says otherwise: far more than the few
// backends and auth servers that call it keep, and, at MaxHeaderBytes
// each, some tens of MB at most.
const DefaultMaxConnections = 1024

// MaxHeaderBytes bounds a request's header, its line included: Go answers
// 431 beyond it. A Twilio SDK's header is well under 1 KB; Go's default
// of 1 MB let a few hundred unfinished headers take a gigabyte.
const MaxHeaderBytes = 32 << 10

// limitListener accepts at most cap(slots) connections at once. At the
// cap it stops accepting, so that further connections wait in the
// kernel's queue and cost this process nothing, and calls shed(true)
// until a quarter of the slots are free again, then shed(false). serve's
// shed closes idle keep-alive connections (and headers unfinished after
// 5 s) and keeps no connection open after its answer: an attacker who
// would hold every slot must keep a request in flight on each, which the
// server's read timeouts end, rather than leave them idle for minutes.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	shed      func(bool)

	mu       sync.Mutex // guards shedding
	shedding bool
}

func newLimitListener(l net.Listener, max int, shed func(bool)) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, max), done: make(chan struct{}), shed: shed}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	if !l.acquire() {
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		l.release()
		return nil, err
	}
	return &limitConn{Conn: c, release: l.release}, nil
}

// acquire takes a slot, reporting false when the listener closed first.
func (l *limitListener) acquire() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	l.setShedding(true)
	select {
	case l.slots <- struct{}{}:
		return true
	case <-l.done:
		return false
	}
}

func (l *limitListener) release() {
	<-l.slots
	if len(l.slots) <= cap(l.slots)*3/4 {
		l.setShedding(false)
	}
}

// setShedding calls shed on a change, outside the lock: shedding closes
// connections, whose release may change the state again meanwhile, and
// then the latest state is applied last.
func (l *limitListener) setShedding(on bool) {
	l.mu.Lock()
	if l.shedding == on {
		l.mu.Unlock()
		return
	}
	l.shedding = on
	l.mu.Unlock()
	for {
		l.shed(on)
		l.mu.Lock()
		now := l.shedding
		l.mu.Unlock()
		if now == on {
			return
		}
		on = now
	}
}

// Close stops Accept, a waiting one included.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back when it closes, once.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
