package lkpeer

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"

	lktest "github.com/walkie-ptt/walkie/internal/testkit/livekit"
)

func TestMain(m *testing.M) {
	RunIfPeer()
	os.Exit(m.Run())
}

func TestMarkerRoundTrip(t *testing.T) {
	sent := time.Unix(1700000000, 123456789)
	frame := silenceFrame(42, sent)
	if frame[0]&0x03 != 3 || frame[1]&0x40 == 0 || int(frame[2]) != markerLen || len(frame) != 5+markerLen {
		t.Fatalf("frame % x is not a code-3 packet with %d bytes of padding", frame, markerLen)
	}
	seq, at, ok := readMarker(append([]byte{0xAA, 0xBB}, frame...))
	if !ok || seq != 42 || !at.Equal(sent) {
		t.Fatalf("readMarker = %d, %v, %v; want 42, %v, true", seq, at, ok, sent)
	}
	if _, _, ok := readMarker([]byte{0xF8, 0xFF, 0xFE}); ok {
		t.Fatal("readMarker found a marker in a plain silence frame")
	}
}

// A participant allowed to publish reaches a listener: both run in a
// network namespace, the server on the host side of its veth pair.
func TestListenerCountsAPublishersPackets(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	lk, ns := lktest.StartInNamespace(t, ctx, lktest.Options{})

	token := func(identity string) string {
		grant := &auth.VideoGrant{RoomJoin: true, Room: "peer-test"}
		jwt, err := auth.NewAccessToken(lk.APIKey(), lk.APISecret()).SetVideoGrant(grant).
			SetIdentity(identity).SetValidFor(time.Hour).ToJWT()
		if err != nil {
			t.Fatal(err)
		}
		return jwt
	}
	start := func(identity string) *Peer {
		p, err := Start(ctx, ns, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		got, err := p.Join(ctx, lk.URL(), token(identity))
		if err != nil {
			t.Fatalf("%v\nlivekit:\n%s", err, lk.Output())
		}
		if got != identity {
			t.Fatalf("joined as %q, want %q", got, identity)
		}
		return p
	}
	listener := start("listener")
	speaker := start("speaker")
	if err := speaker.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := listener.WaitFor(ctx, "50 packets from the speaker", func(s Stats) bool {
		return s.Received["speaker"] >= 50 && s.Subscribed["speaker"] == 1
	}); err != nil {
		t.Fatalf("%v\nspeaker:\n%s", err, speaker.Output())
	}
	s, err := speaker.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Publications != 1 || !s.Publishing || s.Bound == 0 {
		t.Fatalf("speaker stats %+v, want one live publication and frames sent", s)
	}
}
