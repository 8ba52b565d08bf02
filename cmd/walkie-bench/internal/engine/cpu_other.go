//go:build !linux

package engine

import "time"

// processCPU and postgresCPU are only implemented on Linux; elsewhere the
// report shows no CPU split.
func processCPU() time.Duration { return 0 }

func postgresCPU(string) time.Duration { return 0 }
