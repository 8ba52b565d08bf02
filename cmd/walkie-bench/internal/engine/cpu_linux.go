package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat; Linux fixes it
// at 100 for user space on every architecture Go supports.
const userHZ = 100

// processCPU is the CPU time this process (Walkie, the load generator and
// the stand-in) has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the CPU time the PostgreSQL server with data directory
// dataDir has used: the postmaster and its live children (backends,
// WAL writer, checkpointer), and the children it has reaped (its cutime
// and cstime: pgbench's backends exit at the end of each run).
func postgresCPU(dataDir string) time.Duration {
	pidFile, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	postmaster, _, _ := strings.Cut(string(pidFile), "\n")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// The command name may contain spaces; the fields after it do not.
		_, rest, ok := strings.Cut(string(stat), ") ")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // f[0] is field 3 (state), f[1] ppid, f[11] utime, f[12] stime, f[13] cutime, f[14] cstime
		if len(f) < 15 || (e.Name() != postmaster && f[1] != postmaster) {
			continue
		}
		used := f[11:13]
		if e.Name() == postmaster {
			used = f[11:15]
		}
		for _, v := range used {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / userHZ
}
