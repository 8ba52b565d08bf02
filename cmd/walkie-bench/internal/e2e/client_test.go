package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestClientQuickRun takes two turns on each path through the web client
// in Chromium and checks every series was measured. It asserts no speed.
func TestClientQuickRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := RunClient(ctx, ClientOptions{Turns: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantSamples(t, 2, map[string][]time.Duration{
		"channel press-to-grant": res.Channel.PressToGrant, "channel listener sees": res.Channel.ListenerSees,
		"channel mouth-to-ear": res.Channel.MouthToEar,
		"room press-to-grant":  res.Room.PressToGrant, "room listener sees": res.Room.ListenerSees,
		"room mouth-to-ear": res.Room.MouthToEar,
	})
	var out bytes.Buffer
	res.Report(&out)
	t.Logf("report:\n%s", out.String())
	if !strings.Contains(out.String(), "ratio channel/room press-to-grant") || !strings.Contains(out.String(), "room mouth-to-ear") {
		t.Fatalf("report: %s", out.String())
	}
}
