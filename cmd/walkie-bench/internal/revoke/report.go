package revoke

import (
	"fmt"
	"io"
	"time"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/e2e"
)

// target is issue 14's revoke to silence, at p95.
const target = 250 * time.Millisecond

// Report prints each way's revoke to silence, its breakdown at p50, the
// packets that still came after the decision, and the verdict.
func (r Result) Report(w io.Writer) {
	fmt.Fprintf(w, "%-8s %-30s %-9s %-12s %-12s %-11s %-22s %s\n", "way", "revoke to silence", "decided", "unpublished",
		"track ended", "stream end", "packets after decision", "talker wrote on (min)")
	for _, wr := range r.Ways {
		ss := wr.Samples
		silence := durations(ss, func(s Sample) time.Duration { return s.Silence })
		told := "n/a"
		if u := durationsIf(ss, func(s Sample) (time.Duration, bool) { return s.Unpublished, s.Unpublished >= 0 }); len(u) > 0 {
			told = p50(u)
		}
		after, most := 0, 0
		var wrote uint64
		for i, s := range ss {
			after += s.AfterDecision
			most = max(most, s.AfterDecision)
			if i == 0 || s.Written < wrote {
				wrote = s.Written
			}
		}
		fmt.Fprintf(w, "%-8s n=%-3d p50=%-8s p95=%-8s %-9s %-12s %-12s %-11s %-22s %d frames\n", wr.Way.Name, len(ss),
			p50(silence), ms(e2e.Percentile(silence, 95)),
			p50(durations(ss, func(s Sample) time.Duration { return s.Decided })), told,
			p50(durations(ss, func(s Sample) time.Duration { return s.TrackEnded })),
			p50(durations(ss, func(s Sample) time.Duration { return s.StreamEnd })),
			fmt.Sprintf("%d in all, at most %d", after, most), wrote)
	}
	fmt.Fprintln(w, "(silence: to the listener's last packet of the talker's audio. Then p50s from the revoke sent: decided,")
	fmt.Fprintln(w, "the floor channel's push of the decision; unpublished, LiveKit telling the talker its track was")
	fmt.Fprintln(w, "unpublished; track ended, at the listener; stream end, the last of the 0.2 s of silence frames")
	fmt.Fprintln(w, "LiveKit itself sends on a track it closes)")
	for _, wr := range r.Ways {
		p95 := e2e.Percentile(durations(wr.Samples, func(s Sample) time.Duration { return s.Silence }), 95)
		met := "met"
		if p95 > target {
			met = "NOT met"
		}
		fmt.Fprintf(w, "%s (%s): revoke to silence p95 = %s: target <= %s %s\n", wr.Way.Name, wr.Way.About, ms(p95), target, met)
	}
}

func durations(ss []Sample, f func(Sample) time.Duration) []time.Duration {
	return durationsIf(ss, func(s Sample) (time.Duration, bool) { return f(s), true })
}

func durationsIf(ss []Sample, f func(Sample) (time.Duration, bool)) []time.Duration {
	var out []time.Duration
	for _, s := range ss {
		if d, ok := f(s); ok {
			out = append(out, d)
		}
	}
	return out
}

func p50(ds []time.Duration) string { return ms(e2e.Percentile(ds, 50)) }
