package stack

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// startTimeout bounds bringing a shared stack up (the first run builds
// Dendrite, which takes about two minutes).
const startTimeout = 10 * time.Minute

// Main is the TestMain of a package whose tests share one stack: it starts
// the stack, hands it to use, runs the tests and tears it down. Walkie's
// and Dendrite's output goes to a temporary file, named on stderr and kept
// when something failed, removed otherwise. name tells the packages' files
// and messages apart ("e2e", "webclient").
func Main(m *testing.M, name string, opts Options, use func(*Stack)) int {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	logFile, err := os.CreateTemp("", "walkie-"+name+"-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	opts.Log = logFile
	s, err := Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: could not start PostgreSQL + Dendrite + Walkie: %v\n(log: %s)\n", name, err, logFile.Name())
		return 1
	}
	use(s)
	code := m.Run()
	s.Stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "%s: Walkie and Dendrite logs are in %s\n", name, logFile.Name())
	} else {
		_ = os.Remove(logFile.Name())
	}
	return code
}
