package lkpeer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/netns"
	"github.com/walkie-ptt/walkie/internal/testkit/proc"
)

// Options configures Start.
type Options struct {
	// LogWriter receives the participant process's output (the SDK's
	// logs). Default: discarded; the tail is still quoted in errors.
	LogWriter io.Writer
}

// Peer is the controller's handle on one participant process.
type Peer struct {
	child    *proc.Child
	output   *proc.Output
	requests io.WriteCloser
	answers  *bufio.Scanner

	mu        sync.Mutex // one request at a time
	closeOnce sync.Once
}

// Start runs a participant process inside ns: the test binary again, whose
// TestMain calls RunIfPeer. Close ends it (t.Cleanup(peer.Close)).
func Start(ctx context.Context, ns *netns.Namespace, opts Options) (*Peer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("lkpeer: find the test binary: %w", err)
	}
	// -test.run=^$: a test binary whose TestMain forgot RunIfPeer runs no
	// test and exits, which the first request reports.
	cmd := ns.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envFlag+"=1")
	p := &Peer{output: proc.NewOutput(opts.LogWriter, 16<<10)}
	cmd.Stdout, cmd.Stderr = p.output, p.output
	if p.requests, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	answersRead, answersWrite, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{answersWrite} // descriptor 3 in the child
	p.child, err = proc.Start(cmd)
	answersWrite.Close() // the child has its copy
	if err != nil {
		answersRead.Close()
		return nil, fmt.Errorf("lkpeer: start the participant process: %w", err)
	}
	p.answers = bufio.NewScanner(answersRead)
	p.answers.Buffer(make([]byte, 64<<10), 1<<20)
	go func() {
		<-p.child.Exited()
		answersRead.Close() // unblocks a pending read
	}()
	return p, nil
}

// Join connects the participant to url with token and returns its identity.
func (p *Peer) Join(ctx context.Context, url, token string) (string, error) {
	a, err := p.call(ctx, request{Op: opJoin, URL: url, Token: token})
	return a.Identity, err
}

// Publish starts publishing a microphone track for good (see the package
// doc); it returns at once.
func (p *Peer) Publish(ctx context.Context) error {
	_, err := p.call(ctx, request{Op: opPublish})
	return err
}

// Stats returns what the participant has seen and done so far.
func (p *Peer) Stats(ctx context.Context) (Stats, error) {
	a, err := p.call(ctx, request{Op: opStats})
	if err != nil {
		return Stats{}, err
	}
	if a.Stats == nil {
		return Stats{}, errors.New("lkpeer: an answer without stats")
	}
	return *a.Stats, nil
}

// Arrivals returns the packets from the publisher identity that arrived
// after since, oldest first, with their markers and arrival times (the
// participant keeps the last minute's).
func (p *Peer) Arrivals(ctx context.Context, identity string, since time.Time) ([]Arrival, error) {
	a, err := p.call(ctx, request{Op: opArrivals, Identity: identity, Since: since})
	return a.Arrivals, err
}

// WaitFor polls Stats until cond holds, and returns the Stats it held for.
// It fails when ctx ends (give it a deadline), naming what it waited for
// and the last Stats.
func (p *Peer) WaitFor(ctx context.Context, what string, cond func(Stats) bool) (Stats, error) {
	for {
		s, err := p.Stats(ctx)
		if err != nil {
			return s, err
		}
		if cond(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("lkpeer: waited in vain for %s: %w; last stats %+v", what, ctx.Err(), s)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close asks the participant to leave and ends its process. Safe to call
// more than once.
func (p *Peer) Close() {
	p.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = p.call(ctx, request{Op: opLeave})
		p.requests.Close()
		p.child.End(os.Interrupt, 5*time.Second)
	})
}

// Kill ends the participant process with SIGKILL: a client that drops
// off without leaving, which the server notices only when the
// connection breaks. Close after it only reaps.
func (p *Peer) Kill() {
	p.child.End(os.Kill, 5*time.Second)
}

// Output is what the participant process printed (its last 16 KiB).
func (p *Peer) Output() string { return p.output.String() }

// call sends one request and reads its answer. ctx bounds the wait: on
// expiry the process is killed, since its answer would arrive out of turn.
func (p *Peer) call(ctx context.Context, req request) (answer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line, err := json.Marshal(req)
	if err != nil {
		return answer{}, err
	}
	if _, err := p.requests.Write(append(line, '\n')); err != nil {
		return answer{}, p.failure(req, err)
	}
	read := make(chan error, 1)
	var a answer
	go func() {
		if !p.answers.Scan() {
			read <- errors.Join(io.ErrUnexpectedEOF, p.answers.Err())
			return
		}
		read <- json.Unmarshal(p.answers.Bytes(), &a)
	}()
	select {
	case err := <-read:
		if err != nil {
			return a, p.failure(req, err)
		}
	case <-ctx.Done():
		p.child.End(os.Kill, time.Second)
		<-read
		return a, p.failure(req, ctx.Err())
	}
	if a.Error != "" {
		return a, fmt.Errorf("lkpeer: %s: %s", req.Op, a.Error)
	}
	return a, nil
}

func (p *Peer) failure(req request, err error) error {
	hint := ""
	if !p.child.Running() {
		hint = " (the participant process exited: does the test binary's TestMain call lkpeer.RunIfPeer?)"
	}
	return fmt.Errorf("lkpeer: %s: %w%s; its last output:\n%s", req.Op, err, hint, p.output.Tail(4<<10))
}
