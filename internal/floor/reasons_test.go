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
