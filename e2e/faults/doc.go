// Package faults proves Walkie's reliability promise — one speaker at a
// time, no stuck floor, nothing lost — by breaking things on purpose: it
// SIGKILLs the real walkie binary mid-run, stops and crashes PostgreSQL
// under it, takes the homeserver away, and runs two replicas on one
// database, then audits the database and what the homeserver received.
//
// The helpers here are the test rig, on top of internal/testkit:
//
//   - NewWalkie runs the real binary (testkit/walkieproc), configured by
//     its own `-g` flow.
//   - NewHomeserver is the client-server API stand-in (testkit/fakehs)
//     recording every send, deduplicating by transaction ID as a real
//     homeserver does, and failing on command: an outage, or 403 for one
//     room.
//   - Pusher plays the homeserver's appservice side: it PUTs transactions
//     and, like a homeserver, retries the same transaction until Walkie
//     answers 200.
//   - Events builds the room events a client would send
//     (testkit/roomevents) and remembers the talk requests; Conversation
//     strings them into busy conversations.
//   - The Audit functions check the invariants over the database and the
//     recorded sends; their own tests feed them broken histories to show
//     they catch what they claim to catch.
//
// docs/reliability.md lists the guarantees, the test behind each, and the
// known limits.
package faults
