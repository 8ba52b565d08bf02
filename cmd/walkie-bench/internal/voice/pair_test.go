package voice

import "testing"

// A listener onset timed a little before the speaker's pairs with that
// burst in live mode (a sample below zero), not with the next burst one
// tone period later; with chunks only onsets from the speaker's on pair.
func TestPairing(t *testing.T) {
	const next = 100_000
	heard := []int64{next - 4_990, next - 10, next + 4_990} // the press's burst, this one, the next
	for _, c := range []struct {
		live bool
		want int64
	}{
		{true, -10},
		{false, 4_990},
	} {
		if got := firstFrom(heard, pairFrom(next, c.live)) - next; got != c.want {
			t.Errorf("live %v: paired %d ms from the speaker's onset, want %d", c.live, got, c.want)
		}
	}
}
