// Package lkpeer runs Go LiveKit participants for tests: each in a process
// of its own inside a network namespace (internal/testkit/netns), since
// pion, which the Go SDK (server-sdk-go v2.19.0) runs WebRTC on, ignores
// loopback interfaces.
//
// A participant can publish an Opus microphone track and counts the RTP
// packets it receives per publisher identity. Those counts are the truth
// a test asserts on: a publisher's own view is not (the SDK's WriteSample
// returns nil whether or not the server accepted the track, and a refused
// publication only times out after 10 s).
//
// The participant process is the test binary itself, run again under
// `ip netns exec` with an environment flag; the test binary's TestMain must
// hand over to RunIfPeer first:
//
//	func TestMain(m *testing.M) {
//		lkpeer.RunIfPeer()
//		os.Exit(m.Run())
//	}
//
// A test then starts participants and drives them:
//
//	speaker, err := lkpeer.Start(ctx, ns, lkpeer.Options{})
//	id, err := speaker.Join(ctx, lk.URL(), token)
//	err = speaker.Publish(ctx)
//	stats, err := listener.WaitFor(ctx, "audio from the speaker", func(s lkpeer.Stats) bool {
//		return s.Received[id] > 50
//	})
//
// The controller talks to the process over its standard input (requests,
// one JSON object a line) and file descriptor 3 (answers), so the
// process's stdout and stderr are free for the SDK's logs.
//
// # How it publishes
//
// Publish makes the participant behave like a client that wants to talk
// all the time, whatever it is allowed: it keeps trying to publish a
// microphone track and writes a 20 ms frame every 20 ms into every track
// it created, published or not, until 5 s after the server refused or
// unpublished that track (so a long session's attempts do not pile up). A refused attempt (the server ignores
// the request) gives up after the SDK's 10 s; as soon as the server grants
// publishing a new attempt starts without waiting for the old one. When
// the server unpublishes the track (permission withdrawn) it starts over.
// The frames are Opus silence frames whose padding carries a marker
// ("WKPT", a sequence number and the send time), so a listener, a browser
// included, decodes silence and a test can read where a packet came from.
package lkpeer
