package floor

import (
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
		d.rememberBroadcast(string(rune('a'+i%26))+"-"+string(rune('0'+i/26)), 0)
	}
	if len(r.Revoked) != maxRemembered {
		t.Fatalf("remembered %d broadcasts, want the bound %d", len(r.Revoked), maxRemembered)
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
