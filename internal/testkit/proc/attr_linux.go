package proc

import "syscall"

// dieWithParent makes the kernel kill the child when the test binary dies
// without running its cleanups (a panic or a go test -timeout), so no
// orphaned server keeps a port and a temporary directory.
//
// Pdeathsig fires when the OS thread that started the child exits. The Go
// runtime does not retire threads except after LockOSThread, which nothing
// on this path uses.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
