package lkpeer

import "time"

// Arrival is one RTP packet a participant received: its marker (zero
// when the packet carried none) and when it was read.
type Arrival struct {
	Seq  uint64    `json:"seq"`
	Sent time.Time `json:"sent"`
	At   time.Time `json:"at"`
}

// arrivalsKept bounds each publisher's log: a minute of 20 ms frames,
// enough to look back across one measured turn.
const arrivalsKept = 3000

// arrivalLog keeps a publisher's latest arrivals, oldest first.
type arrivalLog struct {
	kept []Arrival
}

func (l *arrivalLog) add(a Arrival) {
	if len(l.kept) == arrivalsKept {
		// Drop the older half at once rather than one at a time.
		l.kept = append(l.kept[:0], l.kept[arrivalsKept/2:]...)
	}
	l.kept = append(l.kept, a)
}

// since returns a copy of the arrivals read after t.
func (l *arrivalLog) since(t time.Time) []Arrival {
	i := len(l.kept)
	for i > 0 && l.kept[i-1].At.After(t) {
		i--
	}
	return append([]Arrival(nil), l.kept[i:]...)
}
