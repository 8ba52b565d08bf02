package proc

import (
	"io"
	"sync"
)

// Output collects a child's stdout and stderr. It passes everything on to
// the next writer (if any) and keeps the end of it in memory, so a failure
// can quote the child's own explanation even when the log goes to a file
// or nowhere, and a test can read what the child printed.
//
// Give the same *Output as Stdout and Stderr: one comparable writer makes
// exec copy both streams in one goroutine, so next never sees concurrent
// writes.
type Output struct {
	mu   sync.Mutex
	next io.Writer
	keep int
	buf  []byte
}

// NewOutput forwards to next (nil: nowhere) and keeps the last keep bytes,
// or everything when keep is 0.
func NewOutput(next io.Writer, keep int) *Output {
	if next == nil {
		next = io.Discard
	}
	return &Output{next: next, keep: keep}
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	o.buf = append(o.buf, p...)
	if over := len(o.buf) - o.keep; o.keep > 0 && over > 0 {
		o.buf = append(o.buf[:0], o.buf[over:]...)
	}
	o.mu.Unlock()
	// Report success to the child's pipe whatever the sink does: a failing
	// log writer must not make exec stop draining the child's output.
	_, _ = o.next.Write(p)
	return len(p), nil
}

// String is everything kept.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.buf)
}

// Tail is the last n bytes kept, for failure messages.
func (o *Output) Tail(n int) string {
	s := o.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
