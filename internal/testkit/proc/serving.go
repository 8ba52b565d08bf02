package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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
// on. The kernel picks ports at random, so another process taking it before
// the caller's server binds it is unlikely; it shows as "address already
// in use" when it happens.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
