package revoke

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/lkpeer"
)

func TestMain(m *testing.M) {
	lkpeer.RunIfPeer() // the participants are this test binary, run again
	os.Exit(m.Run())
}

// TestQuickRun measures one revoke per way end to end and checks each
// way produced a sample in which the talker kept writing while the
// listener went quiet. It asserts no speed.
func TestQuickRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := Run(ctx, Options{Samples: 1, Progress: &progress, LogDir: t.ArtifactDir()})
	t.Logf("progress:\n%s", progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ways) != len(Ways) {
		t.Fatalf("%d ways measured, want %d", len(res.Ways), len(Ways))
	}
	for _, w := range res.Ways {
		if len(w.Samples) != 1 {
			t.Errorf("%s: %d samples, want 1", w.Way.Name, len(w.Samples))
			continue
		}
		s := w.Samples[0]
		if s.Silence < 0 || s.Decided <= 0 || s.TrackEnded <= 0 || s.StreamEnd < s.Silence {
			t.Errorf("%s: %s: want times from the revoke, the stream's end after the talker's last packet", w.Way.Name, s)
		}
		if s.Written < quietFrames {
			t.Errorf("%s: the talker wrote %d frames into the revoked track, want at least %d", w.Way.Name, s.Written, quietFrames)
		}
	}
	var out bytes.Buffer
	res.Report(&out)
	t.Logf("report:\n%s", out.String())
	for _, want := range []string{"revoke to silence p95", "chair ", "preempt ", "admin "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
