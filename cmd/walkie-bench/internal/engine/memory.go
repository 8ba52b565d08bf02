package engine

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// readMemory collects garbage, then reads the heap in use, the process's
// resident set (Linux) and the size of Walkie's database.
func (b *engineRun) readMemory(ctx context.Context, m *Memory) error {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.HeapInuse, m.RSS = ms.HeapInuse, residentSet()
	var size int64
	if err := b.db.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
		return err
	}
	m.DatabaseBytes = uint64(size)
	return nil
}

// residentSet reads VmRSS from /proc/self/status; 0 where there is none.
func residentSet() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
