// Package e2e holds Walkie's end-to-end scenarios: the real walkie binary,
// a real PostgreSQL and a real Dendrite homeserver (built from the Go
// module proxy through e2e/tools), with real Matrix clients as devices.
package e2e
