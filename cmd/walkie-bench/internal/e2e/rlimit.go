package e2e

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises this process's soft limit on open files to the
// hard limit (children, the walkie binary among them, inherit it), and
// fails when even that is below need.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the limit on open files: %w", err)
	}
	if lim.Max < need {
		return fmt.Errorf("this run needs %d open files, and the hard limit is %d: raise it (ulimit -Hn, or LimitNOFILE) or open fewer sockets", need, lim.Max)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raise the limit on open files to %d: %w", lim.Max, err)
		}
	}
	return nil
}
