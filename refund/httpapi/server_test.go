package httpapi_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund/httpapi"
)

// serve runs h behind NewServer with opts on a loopback port and returns
// its address.
func serve(t *testing.T, h http.Handler, opts httpapi.ServerOptions) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.NewServer(h, opts)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestUnauthenticatedRequestIsAnsweredWithoutItsBody announces a body and
// never sends it, without a token: the 401 must come at once and the
// connection close, instead of the server waiting for the body.
func TestUnauthenticatedRequestIsAnsweredWithoutItsBody(t *testing.T) {
	api := newTestAPI(t, nil)
	addr := serve(t, api.handler, httpapi.ServerOptions{})
	for _, req := range []string{
		"PUT /api/v1/orders/KM1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n",
		"POST /api/v1/payouts/P1-1/confirm HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nContent-Length: 100\r\n\r\n",
	} {
		c := dial(t, addr)
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%q: no answer before the body: %v", strings.SplitN(req, "\r\n", 2)[0], err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
			t.Errorf("%q: status %d, close %v; want 401 and the connection closed", strings.SplitN(req, "\r\n", 2)[0], resp.StatusCode, resp.Close)
		}
	}
}

// TestServerDropsSilentAndIdleConnections: a connection that sends nothing,
// or half a request, or idles after an answer, is closed by the server.
func TestServerDropsSilentAndIdleConnections(t *testing.T) {
	api := newTestAPI(t, nil)
	opts := httpapi.ServerOptions{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond,
		IdleTimeout: 200 * time.Millisecond}
	addr := serve(t, api.handler, opts)
	closedWithin := func(name string, c net.Conn, d time.Duration) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: connection still open after %v", name, d)
		}
	}
	closedWithin("silent", dial(t, addr), 2*time.Second)
	half := dial(t, addr)
	_, _ = io.WriteString(half, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	closedWithin("half a request", half, 2*time.Second)
	slowBody := dial(t, addr)
	_, _ = io.WriteString(slowBody, "PUT /api/v1/orders/KM1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+testToken+"\r\nContent-Length: 1000\r\n\r\n{")
	closedWithin("a body that never ends", slowBody, 2*time.Second)
	idle := dial(t, addr)
	_, _ = io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	closedWithin("idle keep-alive", idle, 2*time.Second)
}

// TestServerCapsConnections: past MaxConns a new connection is not served
// until one of the others closes.
func TestServerCapsConnections(t *testing.T) {
	api := newTestAPI(t, nil)
	addr := serve(t, api.handler, httpapi.ServerOptions{MaxConns: 2})
	held := []net.Conn{dial(t, addr), dial(t, addr)}
	third := dial(t, addr)
	_, _ = io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(third)
	_ = third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := http.ReadResponse(r, nil); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection was served past the cap of 2: %v", err)
	}
	held[0].Close()
	_ = third.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("the third connection was not served once a slot was free: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d", resp.StatusCode)
	}
}
