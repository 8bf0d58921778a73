package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// proxy is a TCP relay between the bot and one of its servers (Redis,
// PostgreSQL), so that a test can take the server away and give it back
// without touching the real one, which other tests share.
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{} // both ends of every live relay
	wg    sync.WaitGroup
}

// startProxy listens on 127.0.0.1:0 and relays every connection to target
// (host:port) until the test ends.
func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port, to put in the bot's URL instead of the
// server's.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every live connection and refuses new ones until Restore: to
// the bot, the server has gone down.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		reset(c)
	}
	clear(p.conns)
}

// Restore accepts connections again: the server is back.
func (p *proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// Live counts the relayed connections now open.
func (p *proxy) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

func (p *proxy) close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.t.Logf("proxy to %s: accept: %v", p.target, err)
			}
			return
		}
		p.wg.Add(1)
		go p.relay(client)
	}
}

// relay connects client to the target and copies both ways until either
// side closes or the proxy is cut.
func (p *proxy) relay(client net.Conn) {
	defer p.wg.Done()
	p.mu.Lock()
	refused := p.cut
	p.mu.Unlock()
	if refused {
		reset(client)
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		reset(client)
		return
	}
	p.mu.Lock()
	if p.cut { // cut while dialling
		p.mu.Unlock()
		reset(client)
		reset(server)
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()

	var copies sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer copies.Done()
		_, _ = io.Copy(dst, src)
		// One side ended: end the other, so neither waits for ever.
		dst.Close()
		src.Close()
	}
	copies.Add(2)
	go pipe(server, client)
	go pipe(client, server)
	copies.Wait()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// reset closes c at once with a TCP reset rather than an orderly
// shutdown, the way a crashed server's connections end.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// TestProxyCutAndRestore checks the proxy itself against an echo server:
// it relays, Cut ends live connections and refuses new ones, and Restore
// relays again.
func TestProxyCutAndRestore(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	p := startProxy(t, ln.Addr().String())
	echo := func(c net.Conn) error {
		if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return err
		}
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if string(buf) != "ping" {
			return fmt.Errorf("echo %q", buf)
		}
		return nil
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	live := dial()
	if err := echo(live); err != nil {
		t.Fatalf("relay: %v", err)
	}
	p.Cut()
	if err := echo(live); err == nil {
		t.Fatal("a connection lived through the cut")
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil { // refused at connect, or reset right after
		err = echo(c)
		c.Close()
		if err == nil {
			t.Fatal("a new connection was relayed while cut")
		}
	}
	p.Restore()
	if err := echo(dial()); err != nil {
		t.Fatalf("relay after restore: %v", err)
	}
	if n := p.Live(); n != 1 {
		t.Fatalf("%d live relays, want 1", n)
	}
}
