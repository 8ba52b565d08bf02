package voice

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// LiveStack is part F's deployment: PostgreSQL, Dendrite, Walkie with its
// client-facing listener in live mode, and LiveKit on the host side of a
// network namespace (SFU.NS), where Go participants can run too. Their
// output goes to Log.
type LiveStack struct {
	*stack.Stack
	SFU *stack.SFU
	Log *os.File
}

// StartLiveStack starts it with floor's timers, its log a new file in
// logDir (the default temporary directory when "") named after name,
// which progress is told. Stop tears it down, also after an error.
func StartLiveStack(ctx context.Context, logDir, name string, floor timers.Floor, progress io.Writer) (*LiveStack, error) {
	logFile, err := os.CreateTemp(logDir, "walkie-"+name+"-*.log")
	if err != nil {
		return nil, err
	}
	l := &LiveStack{SFU: &stack.SFU{Log: logFile}, Log: logFile}
	fmt.Fprintf(progress, "starting PostgreSQL, Dendrite, LiveKit and Walkie (logs: %s)\n", logFile.Name())
	if l.Stack, err = stack.Start(ctx, stack.Options{Log: logFile, LogLevel: "info", Floor: floor, Web: true, LiveKit: l.SFU.Start}); err != nil {
		l.Stop()
		return nil, err
	}
	return l, nil
}

// Stop stops Walkie, Dendrite and PostgreSQL, then LiveKit, and closes
// the log.
func (l *LiveStack) Stop() {
	if l.Stack != nil {
		l.Stack.Stop()
	}
	_ = l.SFU.Stop()
	_ = l.Log.Close()
}
