package app

import (
	"context"
	"sync"
)

// roomScheduler runs a function per room on a fixed number of workers,
// never for the same room twice at once, and runs a room once more when it
// was scheduled again while running. Events of one room are thus handled in
// order, different rooms in parallel. (The database row lock makes this
// safe across processes too; this only keeps one process from queueing up
// behind its own lock.)
type roomScheduler struct {
	run func(ctx context.Context, roomID string)

	mu      sync.Mutex
	cond    *sync.Cond
	fifo    []string
	state   map[string]roomState
	stopped bool
}

type roomState int

const (
	queued roomState = iota + 1
	running
	runAgain
)

func newRoomScheduler(run func(ctx context.Context, roomID string)) *roomScheduler {
	s := &roomScheduler{run: run, state: map[string]roomState{}}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Schedule asks for the rooms to be processed soon.
func (s *roomScheduler) Schedule(rooms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, room := range rooms {
		switch s.state[room] {
		case 0:
			s.state[room] = queued
			s.fifo = append(s.fifo, room)
			s.cond.Signal()
		case running:
			s.state[room] = runAgain
		}
	}
}

// Run starts n workers and returns when ctx ends and they have finished.
func (s *roomScheduler) Run(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				room, ok := s.next()
				if !ok {
					return
				}
				s.run(ctx, room)
				s.done(room)
			}
		}()
	}
	<-ctx.Done()
	s.mu.Lock()
	s.stopped = true
	s.cond.Broadcast()
	s.mu.Unlock()
	wg.Wait()
}

func (s *roomScheduler) next() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.fifo) == 0 && !s.stopped {
		s.cond.Wait()
	}
	if s.stopped {
		return "", false
	}
	room := s.fifo[0]
	s.fifo[0] = ""
	s.fifo = s.fifo[1:]
	s.state[room] = running
	return room, true
}

func (s *roomScheduler) done(room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state[room] == runAgain {
		s.state[room] = queued
		s.fifo = append(s.fifo, room)
		s.cond.Signal()
		return
	}
	delete(s.state, room)
}
