// Package dendrite runs a real, throwaway Dendrite homeserver for
// end-to-end tests and the demo.
//
// It drives the dendrite, generate-keys and create-account binaries built
// from the separate e2e/tools module and never imports Dendrite's packages,
// so the main module stays free of Dendrite's dependencies.
//
// Each Start gets its own directory, key, SQLite files, in-memory NATS
// streams and loopback port, so tests may run several servers in parallel.
//
//	hs, err := dendrite.Start(ctx, dendrite.Options{
//		WorkDir:                     t.TempDir(),
//		AppserviceRegistrationPaths: []string{registrationPath},
//	})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(hs.Stop)
//	alice, err := hs.RegisterUser(ctx, "alice", "password1", false)
//	phone, err := hs.Login(ctx, "alice", "password1", "PHONE")
//	laptop, err := hs.Login(ctx, "alice", "password1", "LAPTOP") // a second device
//	bob, err := hs.NewUser(ctx, "bob", "password2", "PHONE")     // RegisterUser, then Login
//
// # What Dendrite v0.13.8 does and does not do for appservices
//
// Found by reading its source and by probing it from this package's tests:
//
//   - It pushes a room event if the sender or, for m.room.member, the state
//     key is in the users namespace, if the room ID matches the rooms
//     namespace, or if a namespaced user is joined to the room. A
//     non-exclusive rooms regex ".*" therefore delivers every event.
//   - It does not push m.room.redaction events, nor any ephemeral event
//     (typing, receipts, presence): receive_ephemeral and MSC2409 are ignored.
//   - Pushed events carry no unsigned.prev_content, replaces_state or age;
//     invites carry unsigned.invite_room_state.
//   - It has no MSC2659 ping endpoint.
//   - It creates the registration's sender_localpart account itself at
//     startup: registering it again answers M_USER_IN_USE.
//   - A non-200 answer or an unreachable appservice blocks that
//     appservice's whole queue for 2, 4, ... up to 64 seconds before the
//     retry, so a test that starts or restarts its appservice late can stall.
//   - The transaction ID is the first queued message's NATS timestamp, so a
//     retry reuses it, but the retried batch can hold more events than the
//     failed one (seen: 1 event, then 7 under the same ID). Deduplicate by
//     event ID, not only by transaction ID.
//   - A global SQLite "database" section does not work: each component needs
//     its own "file:" connection string (see dendrite.yaml.tmpl).
package dendrite
