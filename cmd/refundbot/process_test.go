package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Bots as processes of their own, for tests that kill one (SIGKILL) or
// run several side by side.

// replicaEnv is set in the environment of a test binary started as one of
// the bot's replicas: TestMain then runs the bot instead of the tests, so
// that a replica is a real process that SIGKILL ends mid-update.
const replicaEnv = "REFUNDBOT_TEST_REPLICA"

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) == "1" {
		os.Exit(run(nil))
	}
	os.Exit(m.Run())
}

// replica is one bot process behind the load balancer.
type replica struct {
	cmd  *exec.Cmd
	addr string
	logs *lockedBuffer
	dead atomic.Bool
}

// lockedBuffer collects a child process's output, which it writes while
// the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr finds a loopback port for a bot to listen on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startReplica runs this test binary as a bot process with env.
func startReplica(t *testing.T, env []string) *replica {
	t.Helper()
	r := &replica{addr: freeAddr(t), logs: &lockedBuffer{}}
	r.cmd = exec.Command(os.Args[0], "-test.run=^$")
	r.cmd.Env = append(append(os.Environ(), replicaEnv+"=1", "HTTP_ADDR="+r.addr), env...)
	r.cmd.Stderr = r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !r.dead.Load() {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			_ = r.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("replica %s logs:\n%s", r.addr, tail(r.logs.String(), 3000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s not ready: %v\n%s", r.addr, err, tail(r.logs.String(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends a replica the hard way: no shutdown, no chance to finish.
func (r *replica) kill() {
	r.dead.Store(true)
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
