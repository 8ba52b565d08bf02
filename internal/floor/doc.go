// Package floor is Walkie's floor-control state machine: every rule of
// docs/protocol.md (the PROTOCOL.md contract) lives here as plain Go.
//
// It imports neither mautrix nor pgx on purpose. The store loads a Room,
// calls Decide with one Input and the database's clock, and writes back the
// Room, the Effects (to the outbox) and the Log entries (to the floor log) in
// the same database transaction. Nothing here does I/O, so every rule can be
// pinned by a table test.
//
// Where things are: events.go names the protocol's event types and the
// values clients send; inputs.go what can happen to a room; room.go what
// the engine remembers about one; effects.go, reasons.go and log.go what
// comes out of a decision; config.go and limits.go the per-room settings.
// The rules themselves are in decide.go and the files named after what
// they handle (request, holder, queue, broadcast, permits, members, power,
// timers, redactions).
package floor
