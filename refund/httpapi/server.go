package httpapi

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// ServerOptions bound what one client can hold of the HTTP server that
// serves the shop API, the webhook and the probes. Zero fields take the
// defaults below.
type ServerOptions struct {
	// ReadHeaderTimeout bounds the wait for a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the
	// end of its answer; a webhook update is answered only once its turn
	// is done, so it is longer than a turn waiting out a 429.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout time.Duration
	// MaxConns caps the connections served at once; more wait in the
	// listen backlog until one closes.
	MaxConns int
}

// Defaults of ServerOptions.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 20 * time.Second
	DefaultWriteTimeout      = 75 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
	DefaultMaxConns          = 512
	maxHeaderBytes           = 64 << 10
)

func (o ServerOptions) withDefaults() ServerOptions {
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	set(&o.ReadTimeout, DefaultReadTimeout)
	set(&o.WriteTimeout, DefaultWriteTimeout)
	set(&o.IdleTimeout, DefaultIdleTimeout)
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	return o
}

// Server is an HTTP server whose clients cannot hold a connection, or the
// memory behind it, for longer than the options allow.
type Server struct {
	*http.Server
	maxConns int
}

// NewServer returns a server for h with opts' limits.
func NewServer(h http.Handler, opts ServerOptions) *Server {
	opts = opts.withDefaults()
	return &Server{Server: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}, maxConns: opts.MaxConns}
}

// Serve serves ln, at most MaxConns connections at a time.
func (s *Server) Serve(ln net.Listener) error {
	return s.Server.Serve(&limitListener{Listener: ln, slots: make(chan struct{}, s.maxConns)})
}

// limitListener accepts a connection only while fewer than cap(slots)
// are open; the others wait in the kernel's backlog.
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

// limitedConn gives its slot back once, when closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// RefuseUnread marks an answer given before the request's body was read
// (a wrong token, a wrong method): the connection is closed after it.
// Otherwise Go's server reads up to 256 KiB of the unread body before it
// answers, to keep the connection, and a client that announced a body and
// sends none would hold the connection for as long as it likes.
func RefuseUnread(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
}
