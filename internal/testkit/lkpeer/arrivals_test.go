package lkpeer

import (
	"testing"
	"time"
)

// The log keeps the latest arrivals, and since returns those after a time.
func TestArrivalLog(t *testing.T) {
	var l arrivalLog
	start := time.Unix(1700000000, 0)
	at := func(i int) time.Time { return start.Add(time.Duration(i) * frameDuration) }
	for i := range arrivalsKept + 10 {
		l.add(Arrival{Seq: uint64(i), At: at(i)})
	}
	if n := len(l.kept); n > arrivalsKept || l.kept[n-1].Seq != arrivalsKept+9 {
		t.Fatalf("kept %d arrivals ending with %d, want at most %d ending with the last", n, l.kept[n-1].Seq, arrivalsKept)
	}
	got := l.since(at(arrivalsKept + 6))
	if len(got) != 3 || got[0].Seq != arrivalsKept+7 {
		t.Fatalf("since: %+v, want the last 3", got)
	}
	if got := l.since(at(arrivalsKept + 9)); len(got) != 0 {
		t.Fatalf("since the last: %+v, want none", got)
	}
}
