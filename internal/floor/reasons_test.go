package floor

import "testing"

func TestEveryDenialReasonIsExplained(t *testing.T) {
	for _, reason := range []string{ReasonNoPermit, ReasonPermitExpired, ReasonListenOnly, ReasonNotJoined,
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
