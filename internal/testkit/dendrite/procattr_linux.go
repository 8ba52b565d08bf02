package dendrite

import "syscall"

// childProcAttr makes the kernel kill Dendrite when the test binary dies
// without running its cleanups (a panic or a go test -timeout), so no
// orphaned homeserver keeps a port and a temp directory.
//
// Pdeathsig fires when the OS thread that started the child exits. The Go
// runtime does not retire threads except after LockOSThread, which nothing
// on this path uses.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
