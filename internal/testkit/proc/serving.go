package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrExited is WaitServing's answer when the server went away while it
// waited.
var ErrExited = errors.New("exited before it served")

// WaitServing polls url until it answers 200. It gives up with ErrExited
// once exited closes (the server's process ended), and with ctx's error
// when ctx ends: give it a deadline.
func WaitServing(ctx context.Context, url string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return fmt.Errorf("%s never answered 200: %w", url, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FreePort asks the kernel for a TCP port on 127.0.0.1 that nothing listens
// on, and never returns the same port twice in one process. The kernel
// picks ports at random, so another process taking it before the caller's
// server binds it is unlikely; it shows as "address already in use" when
// it happens. It may well offer a port again once its probe is closed,
// though, and a caller that asks for two ports before binding either (a
// walkie's listener and its metrics listener) got the same one twice.
func FreePort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if given.claim(port) {
			return port, nil
		}
	}
	return 0, errors.New("find a free port: the kernel offered only ports given out before")
}

// given are the ports FreePort has returned in this process.
var given = portSet{ports: map[int]bool{}}

type portSet struct {
	mu    sync.Mutex
	ports map[int]bool
}

// claim records port and reports whether it was new.
func (s *portSet) claim(port int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ports[port] {
		return false
	}
	s.ports[port] = true
	return true
}
