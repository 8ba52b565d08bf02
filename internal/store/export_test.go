package store

// The outbox statements whose plans plans_test.go checks.
const (
	ClaimSQL   = claimSQL
	ReleaseSQL = releaseSQL
)
