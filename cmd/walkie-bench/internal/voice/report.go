package voice

import (
	"fmt"
	"io"
	"time"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/e2e"
)

// Targets of issue 14 and 3GPP MCPTT KPI 3 (mouth to ear, 95 % of
// samples).
const (
	liveTarget = 150 * time.Millisecond
	kpi3       = 300 * time.Millisecond
)

// Report prints both paths side by side, and the live path against the
// targets.
func (r Result) Report(w io.Writer) {
	fmt.Fprintf(w, "%-8s %-34s %s\n", "path", "mouth to ear", "press to first audio")
	for _, p := range []Path{r.Live, r.Chunks} {
		late := ""
		if p.Late > 0 {
			late = fmt.Sprintf(" (%d late)", p.Late)
		}
		fmt.Fprintf(w, "%-8s %-34s %s%s\n", p.Name, percentiles(p.MouthToEar), percentiles(p.PressToAudio), late)
	}
	if jb := r.Live.JitterBuffer; len(jb) > 0 {
		fmt.Fprintf(w, "live: the listener's WebRTC jitter buffer, mean per turn: %s\n", percentiles(jb))
	}
	p95 := e2e.Percentile(r.Live.MouthToEar, 95)
	fmt.Fprintf(w, "live mouth to ear p95 = %s: target <= %s %s; MCPTT KPI 3 (< %s) %s\n", p95.Round(time.Millisecond),
		liveTarget, verdict(p95 <= liveTarget), kpi3, verdict(p95 < kpi3))
}

func percentiles(ds []time.Duration) string {
	return fmt.Sprintf("n=%-3d p50=%-7s p95=%s", len(ds), e2e.Percentile(ds, 50).Round(time.Millisecond),
		e2e.Percentile(ds, 95).Round(time.Millisecond))
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}
