package floor

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestEveryDenialReasonIsExplained(t *testing.T) {
	for _, reason := range []Reason{ReasonNoPermit, ReasonPermitExpired, ReasonListenOnly, ReasonNotJoined,
		ReasonInsufficientPower, ReasonFloorTaken, ReasonQueueFull, ReasonBusyElsewhere, ReasonStaleTerm,
		ReasonRateLimited, ReasonBadRequest, ReasonRoomNotManaged} {
		if Explain(reason) == "" {
			t.Errorf("denial reason %s has no explanation for redaction reasons", reason)
		}
	}
	d := &decider{r: &Room{}}
	if got := d.refusal(ReasonListenOnly); got != "Walkie: listen_only — this device's talk permit is listen-only" {
		t.Errorf("refusal text: %q", got)
	}
}

func TestRememberedBroadcastsAreBounded(t *testing.T) {
	r := NewRoom("!r", "@bot", Config{RevokeGrace: 0})
	d := &decider{r: r}
	for i := range maxRemembered + 10 {
		d.rememberBroadcast(fmt.Sprintf("$bc%d", i), fmt.Sprintf("@user%d:x", i), 0)
	}
	if len(r.Revoked) != maxRemembered {
		t.Fatalf("remembered %d broadcasts, want the bound %d", len(r.Revoked), maxRemembered)
	}
}

// A user flooding refused starts forgets only their own: the broadcasts
// of others stay known, so their encrypted chunks are still recognised.
func TestOneUserCannotFlushRememberedBroadcasts(t *testing.T) {
	r := NewRoom("!r", "@bot", Config{RevokeGrace: 0})
	d := &decider{r: r}
	d.rememberBroadcast("$alice", alice.UserID, 0)
	for i := range 1000 {
		d.rememberBroadcast(fmt.Sprintf("$flood%d", i), mallory.UserID, 0)
	}
	if !slices.ContainsFunc(r.Revoked, func(rb RevokedBroadcast) bool { return rb.EventID == "$alice" }) {
		t.Fatal("mallory's flood flushed alice's refused broadcast")
	}
	if _, n := r.rememberedOf(mallory.UserID); n != maxRememberedPerUser {
		t.Fatalf("mallory has %d remembered broadcasts, want %d", n, maxRememberedPerUser)
	}
	if last := r.Revoked[len(r.Revoked)-1]; last.EventID != "$flood999" {
		t.Fatalf("the newest broadcast is forgotten: %v", last)
	}
}

func TestManagedRoomWithoutMemberLevelsGetsOneNotice(t *testing.T) {
	r := NewRoom("!r", "@bot", Config{})
	// The bot may publish the floor and redact (50) but not edit power
	// levels (100), and nobody set the permit or broadcast levels.
	pl := PowerLevels{Users: map[string]int{"@bot": 50}, StateDefault: 50, Redact: 50,
		Events: map[string]int{TypeFloor: 50, "m.room.power_levels": 100}}
	d := Decide(r, PowerChange{EventID: "$pl", Levels: pl}, Env{})
	var notices int
	for _, e := range d.Effects {
		if e.Kind == EffectNotice {
			notices++
			if !strings.Contains(e.Text, TypePermit) {
				t.Errorf("the notice must name the permit level: %q", e.Text)
			}
		}
	}
	if !d.Room.Managed || notices != 1 {
		t.Fatalf("managed=%v notices=%d, want a managed room and one notice", d.Room.Managed, notices)
	}
	d = Decide(d.Room, PowerChange{EventID: "$pl2", Levels: pl}, Env{})
	for _, e := range d.Effects {
		if e.Kind == EffectNotice {
			t.Fatal("the notice is posted once")
		}
	}
}
