package livekit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/rs/zerolog"

	lktest "github.com/walkie-ptt/walkie/internal/testkit/livekit"
	"github.com/walkie-ptt/walkie/internal/testkit/lkpeer"
	"github.com/walkie-ptt/walkie/internal/testkit/netns"
)

// mediaRig is a real LiveKit server on the host side of a network
// namespace, Walkie's token minter and room client for it, and the
// webhooks it sends, verified.
type mediaRig struct {
	t      *testing.T
	ns     *netns.Namespace
	lk     *lktest.Server
	minter *Minter
	rooms  *Rooms
	events chan Event
}

func newMediaRig(t *testing.T, ctx context.Context) *mediaRig {
	r := &mediaRig{t: t, events: make(chan Event, 256)}
	// Webhooks reach a listener on the host's loopback; the key and secret
	// are known only once the server runs, so requests wait for the handler.
	var hooks http.Handler
	ready := make(chan struct{})
	hookServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		<-ready
		hooks.ServeHTTP(w, req)
	}))
	t.Cleanup(hookServer.Close)
	r.lk, r.ns = lktest.StartInNamespace(t, ctx, lktest.Options{WebhookURLs: []string{hookServer.URL}})
	hooks = WebhookHandler(NewWebhooks(r.lk.APIKey(), r.lk.APISecret()), func(_ context.Context, ev Event) error {
		r.events <- ev
		return nil
	}, zerolog.Nop())
	close(ready)
	r.minter = NewMinter(r.lk.APIKey(), r.lk.APISecret(), time.Hour)
	r.rooms = NewRooms(r.lk.APIURL(), r.lk.APIKey(), r.lk.APISecret())
	return r
}

// join starts a participant that joins room with a token Walkie minted.
func (r *mediaRig) join(ctx context.Context, room string, who Member) *lkpeer.Peer {
	p, err := lkpeer.Start(ctx, r.ns, lkpeer.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(p.Close)
	token, err := r.minter.Mint(room, who)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := p.Join(ctx, r.lk.URL(), token); err != nil {
		r.t.Fatalf("%v\nlivekit:\n%s", err, r.lk.Output())
	}
	return p
}

// waitEvent waits for a verified webhook of kind about identity.
func (r *mediaRig) waitEvent(ctx context.Context, kind EventKind, identity string) Event {
	r.t.Helper()
	for {
		select {
		case ev := <-r.events:
			if ev.Kind == kind && ev.Participant.Identity == identity {
				return ev
			}
		case <-ctx.Done():
			r.t.Fatalf("no %s webhook for %s: %v", kind, identity, ctx.Err())
		}
	}
}

// participant is identity as the room service lists it.
func (r *mediaRig) participant(ctx context.Context, room, identity string) (Participant, error) {
	ps, err := r.rooms.Participants(ctx, room)
	if err != nil {
		return Participant{}, err
	}
	for _, p := range ps {
		if p.Identity == identity {
			return p, nil
		}
	}
	return Participant{}, fmt.Errorf("%s is not among %+v", identity, ps)
}

// The floor holds on the media: a participant with Walkie's token cannot
// put a packet on the air until SetPublish allows it, and nothing more once
// SetPublish forbids it again, though it keeps sending all along. Only the
// listener's count is trusted.
func TestPublishingOnlyWhileAllowed(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	r := newMediaRig(t, ctx)
	room := RoomName("!live:example.org")
	if err := r.rooms.Ensure(ctx, room); err != nil {
		t.Fatal(err)
	}
	alice := Member{UserID: "@alice:example.org", DeviceID: "PHONE"}
	alice.Identity = MemberIdentity(alice.UserID, alice.DeviceID, "member-1")
	bob := Member{UserID: "@bob:example.org", DeviceID: "LAPTOP"}
	bob.Identity = LegacyIdentity(bob.UserID, bob.DeviceID)

	listener := r.join(ctx, room, bob)
	speaker := r.join(ctx, room, alice)
	joined := r.waitEvent(ctx, ParticipantJoined, alice.Identity)
	if joined.Room != room || joined.Participant.UserID != alice.UserID || joined.Participant.DeviceID != alice.DeviceID {
		t.Fatalf("participant_joined webhook %+v, want alice's user and device in %s", joined, room)
	}
	if err := speaker.Publish(ctx); err != nil {
		t.Fatal(err)
	}

	// Not allowed: 150 frames (3 s) go out on a negotiated sender, and
	// none arrives.
	s, err := speaker.WaitFor(ctx, "150 frames sent without permission", func(s lkpeer.Stats) bool { return s.Bound >= 150 })
	if err != nil {
		t.Fatal(err)
	}
	if s.CanPublish || s.Publications != 0 {
		t.Fatalf("speaker %+v: a publication was accepted without permission", s)
	}
	l, err := listener.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := l.Received[alice.Identity]; n != 0 {
		t.Fatalf("the listener received %d packets from a speaker without permission", n)
	}
	if p, err := r.participant(ctx, room, alice.Identity); err != nil || p.CanPublish || p.Microphone {
		t.Fatalf("listed %+v, %v; want no permission and no microphone", p, err)
	}

	// Allowed: its audio reaches the listener.
	if err := r.rooms.SetPublish(ctx, room, alice.Identity, true); err != nil {
		t.Fatal(err)
	}
	if _, err := listener.WaitFor(ctx, "50 packets from the allowed speaker", func(s lkpeer.Stats) bool {
		return s.Received[alice.Identity] >= 50 && s.Subscribed[alice.Identity] == 1
	}); err != nil {
		t.Fatal(err)
	}
	published := r.waitEvent(ctx, TrackPublished, alice.Identity)
	if !published.Microphone || published.TrackSID == "" {
		t.Fatalf("track_published webhook %+v, want alice's microphone", published)
	}
	if p, err := r.participant(ctx, room, alice.Identity); err != nil || !p.CanPublish || !p.Microphone {
		t.Fatalf("listed %+v, %v; want permission and a microphone", p, err)
	}

	// Forbidden again: the server unpublishes the track and the listener's
	// subscription ends. Packets already on their way may still arrive,
	// but not one sent after the revoke, though the speaker sends another
	// 100 frames (each carries its send time; one host, one clock).
	if err := r.rooms.SetPublish(ctx, room, alice.Identity, false); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	if _, err := listener.WaitFor(ctx, "the speaker's track to end", func(s lkpeer.Stats) bool {
		return s.Subscribed[alice.Identity] == 0
	}); err != nil {
		t.Fatal(err)
	}
	s, err = speaker.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := speaker.WaitFor(ctx, "100 more frames sent after the revoke", func(n lkpeer.Stats) bool {
		return n.Bound >= s.Bound+100
	}); err != nil {
		t.Fatal(err)
	}
	if l, err = listener.Stats(ctx); err != nil || l.LastSent[alice.Identity].After(revoked) {
		t.Fatalf("the listener received a packet sent %v after the revoke (%v)", l.LastSent[alice.Identity].Sub(revoked), err)
	}
	if l.LastSent[alice.Identity].IsZero() {
		t.Fatal("the listener's packets carried no markers")
	}
	if unpublished := r.waitEvent(ctx, TrackUnpublished, alice.Identity); unpublished.TrackSID != published.TrackSID {
		t.Fatalf("track_unpublished webhook for %q, want %q", unpublished.TrackSID, published.TrackSID)
	}

	// A participant removed from the room is gone: a webhook says so, and
	// it has no permission left to set. The server answers not_found
	// (errNotInRoom), which SetPublish and Remove answer as done.
	if err := r.rooms.Remove(ctx, room, bob.Identity); err != nil {
		t.Fatal(err)
	}
	r.waitEvent(ctx, ParticipantLeft, bob.Identity)
	_, err = r.rooms.client.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: room, Identity: bob.Identity})
	if err := callError("update participant", err); !errors.Is(err, errNotInRoom) {
		t.Fatalf("updating a removed participant = %v, want errNotInRoom", err)
	}
	if err := r.rooms.SetPublish(ctx, room, bob.Identity, true); err != nil {
		t.Fatalf("SetPublish for a removed participant = %v, want nil", err)
	}
	if err := r.rooms.Remove(ctx, room, bob.Identity); err != nil {
		t.Fatalf("Remove of a removed participant = %v, want nil", err)
	}
	if ps, err := r.rooms.Participants(ctx, RoomName("!nowhere:example.org")); err != nil || len(ps) != 0 {
		t.Fatalf("Participants of a room that does not exist = %v, %v; want none", ps, err)
	}
}
