//go:build !linux

package dendrite

import "syscall"

// childProcAttr: only Linux can tie the child's life to ours (Pdeathsig);
// elsewhere a test binary that dies without cleanups leaves Dendrite running.
func childProcAttr() *syscall.SysProcAttr { return nil }
