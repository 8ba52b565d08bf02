//go:build soak

package faults

import (
	"os"
	"testing"
	"time"
)

// The soak variants run the fault tests longer and harder:
//
//	WALKIE_SOAK_DURATION=10m go test -tags soak -run TestSoak -timeout 2h ./e2e/faults/
//
// WALKIE_SOAK_DURATION (default 5m) is how long the crash run keeps killing
// Walkie and how long the database run keeps stopping PostgreSQL.

func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("WALKIE_SOAK_DURATION")
	if v == "" {
		return 5 * time.Minute
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("WALKIE_SOAK_DURATION=%q is not a positive Go duration (e.g. 10m)", v)
	}
	return d
}

// Kills for the whole soak duration, and leaves every lease of a killed
// process to run out by itself (30 s): the real recovery path.
func TestSoakCrashAtRandomPoints(t *testing.T) {
	runCrash(t, crashPlan{busy: soakDuration(t), rooms: 8})
}

// Stops and crashes PostgreSQL with sends in flight, for the whole soak
// duration: a send whose result cannot be recorded waits out its lease.
func TestSoakPostgresRestart(t *testing.T) {
	const round = 16 * time.Second // two outages of 5 s and the busy time between
	runPostgresRestart(t, postgresPlan{rounds: max(1, int(soakDuration(t)/round)), down: 5 * time.Second})
}

// A 30 s homeserver outage: rooms back off up to the sender's 30 s ceiling.
func TestSoakHomeserverOutage(t *testing.T) {
	runHomeserverOutage(t, 30*time.Second)
}

// 10,000 contended requests on two replicas.
func TestSoakTwoReplicas(t *testing.T) {
	runTwoReplicas(t, 10000)
}
