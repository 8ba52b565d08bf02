package voice

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestQuickRun measures one press per path end to end and checks both
// paths were measured. It asserts no speed.
func TestQuickRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := Run(ctx, Options{Presses: 1, Progress: &progress, LogDir: t.ArtifactDir()})
	t.Logf("progress:\n%s", progress.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Path{res.Live, res.Chunks} {
		if len(p.MouthToEar) != 1 || p.MouthToEar[0] <= 0 {
			t.Errorf("%s: mouth to ear %v, want one positive sample", p.Name, p.MouthToEar)
		}
		if len(p.PressToAudio)+p.Late != 1 {
			t.Errorf("%s: %d press-to-audio samples and %d late presses, want one in all", p.Name, len(p.PressToAudio), p.Late)
		}
		for _, d := range p.PressToAudio {
			if d <= 0 {
				t.Errorf("%s: press to first audio %s", p.Name, d)
			}
		}
	}
	if jb := res.Live.JitterBuffer; len(jb) != 1 || jb[0] <= 0 {
		t.Errorf("live: the listener's jitter buffer %v, want one positive reading", jb)
	}
	var out bytes.Buffer
	res.Report(&out)
	t.Logf("report:\n%s", out.String())
	for _, want := range []string{"live ", "chunks ", "mouth to ear p95", "MCPTT KPI 3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
