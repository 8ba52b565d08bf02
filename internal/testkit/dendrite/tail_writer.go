package dendrite

import (
	"io"
	"sync"
)

// tailWriter forwards everything to an underlying writer and remembers the
// last max bytes, so a startup failure can quote Dendrite's own explanation
// even when the caller discards the log.
type tailWriter struct {
	mu   sync.Mutex
	next io.Writer
	max  int
	buf  []byte
}

func newTailWriter(next io.Writer, max int) *tailWriter {
	return &tailWriter{next: next, max: max}
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	w.mu.Unlock()
	// Report success to the child's pipe whatever the sink does: a failing
	// LogWriter must not make exec stop draining Dendrite's output.
	_, _ = w.next.Write(p)
	return len(p), nil
}

// Tail returns a copy of the most recent output.
func (w *tailWriter) Tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
