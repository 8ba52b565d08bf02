//go:build !linux

package proc

import "syscall"

// dieWithParent: only Linux can tie the child's life to ours (Pdeathsig);
// elsewhere a test binary that dies without cleanups leaves its children
// running.
func dieWithParent() *syscall.SysProcAttr { return nil }
