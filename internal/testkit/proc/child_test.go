package proc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestEndStopsARunningChild(t *testing.T) {
	c, err := Start(exec.Command("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Running() {
		t.Fatal("sleep is not running")
	}
	c.End(syscall.SIGTERM, 10*time.Second)
	if c.Running() || c.Err() == nil {
		t.Fatalf("after End: running %v, exit error %v", c.Running(), c.Err())
	}
	c.End(syscall.SIGTERM, time.Second) // a second End returns at once
}

func TestWaitServingNoticesAnExit(t *testing.T) {
	c, err := Start(exec.Command("true"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// Nothing listens on port 1: only the exit can end the wait.
	if err := WaitServing(ctx, "http://127.0.0.1:1/", c.Exited()); !errors.Is(err, ErrExited) {
		t.Fatalf("WaitServing = %v, want ErrExited", err)
	}
}

func TestWaitServingWaitsForA200(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls++; calls < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := WaitServing(ctx, srv.URL, nil); err != nil || calls != 3 {
		t.Fatalf("WaitServing = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestFreePortCanBeListenedOn(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", port, err)
	}
	l.Close()
}

// Two ports asked for before either is bound (a walkie's listener and
// its metrics listener) must differ, even when the kernel offers a port
// again once its probe is closed.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("FreePort returned %d twice", port)
		}
		seen[port] = true
	}
	s := portSet{ports: map[int]bool{}}
	if !s.claim(8448) || s.claim(8448) || !s.claim(8449) {
		t.Error("claim: want a port new once, then refused")
	}
}
