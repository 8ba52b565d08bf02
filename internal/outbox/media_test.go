package outbox_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/outbox"
)

// sfu records the permission changes the sender makes, or fails them.
type sfu struct {
	mu    sync.Mutex
	calls []string
	fail  error
}

func (s *sfu) SetPublish(_ context.Context, roomID string, dev floor.Device, allow bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	verb := "deny"
	if allow {
		verb = "allow"
	}
	s.calls = append(s.calls, roomID+" "+verb+" "+dev.DeviceID)
	return nil
}

func (s *sfu) made() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func mediaCall(dev floor.Device, allow bool) matrix.Call {
	c, _ := matrix.Render(floor.Effect{Kind: floor.EffectMediaPermission, Device: &dev, Allow: allow})
	return c
}

var (
	alice = floor.Device{UserID: "@alice:test", DeviceID: "ALICE"}
	bob   = floor.Device{UserID: "@bob:test", DeviceID: "BOB"}
)

// A handover's permission changes go to the SFU in the decision's order,
// with the room's Matrix events.
func TestMediaPermissionsGoOutInOrder(t *testing.T) {
	r := newRig(t)
	s := &sfu{}
	r.sender.Media = s
	ids := r.enqueue(mediaCall(alice, false), mediaCall(bob, true), floorState("bob"))
	r.run("every row", func() bool { return r.row(ids[2]).sent })
	if got, want := s.made(), []string{room + " deny ALICE", room + " allow BOB"}; !slices.Equal(got, want) {
		t.Fatalf("SFU calls %q, want %q", got, want)
	}
	if !r.row(ids[0]).sent || !r.row(ids[1]).sent {
		t.Fatal("the permission rows are not marked sent")
	}
}

// An unreachable SFU holds the room's Matrix events back only briefly: its
// rows are given up after a few tries (the reconciler sets permissions
// right once it is back), and the admin retry never sends one again.
func TestAnUnreachableSFUIsGivenUpOnQuickly(t *testing.T) {
	r := newRig(t)
	s := &sfu{fail: errors.New("connection refused")}
	r.sender.Media = s
	ids := r.enqueue(mediaCall(alice, true), floorState("alice"))
	r.setAttempts(ids[0], 2)
	r.run("the floor state behind the failing row", func() bool { return r.row(ids[1]).sent })
	if st := r.row(ids[0]); !st.failed || st.attempts != 3 || !strings.Contains(st.lastError, "connection refused") {
		t.Fatalf("media row %+v: want failed after 3 attempts", st)
	}
	requeued, superseded, err := outbox.RetryFailed(t.Context(), r.st, room)
	if err != nil || requeued != 0 || superseded != 1 {
		t.Fatalf("retry: %d requeued, %d superseded, %v; want 0, 1", requeued, superseded, err)
	}
}

// Without an SFU set up a permission row fails at once, naming the config.
func TestAPermissionWithoutAnSFUFailsAtOnce(t *testing.T) {
	r := newRig(t)
	ids := r.enqueue(mediaCall(alice, true), floorState("alice"))
	r.run("the floor state", func() bool { return r.row(ids[1]).sent })
	if st := r.row(ids[0]); !st.failed || st.attempts > 1 || !strings.Contains(st.lastError, "config livekit") {
		t.Fatalf("media row %+v: want failed at once, naming config livekit", st)
	}
}
