package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestChannelQuickRun presses a few times over the channel and over room
// events and checks both paths were measured. It asserts no speed.
func TestChannelQuickRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := RunChannel(ctx, ChannelOptions{Presses: 3, Sockets: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantSamples(t, 3, map[string][]time.Duration{"channel requester": res.Channel.Requester, "channel listener": res.Channel.Listener,
		"room requester": res.Room.Requester, "room listener": res.Room.Listener})
	var out bytes.Buffer
	res.Report(&out)
	if !strings.Contains(out.String(), "ratio channel/room p95: requester = ") || !strings.Contains(out.String(), "MCPTT KPI 1") {
		t.Fatalf("report: %s", out.String())
	}
}

// TestIdleQuickRun holds a dozen sockets and checks Walkie's figures were
// read before and after. It asserts no speed and no size.
func TestIdleQuickRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := RunIdle(ctx, IdleOptions{Sockets: 12, Users: 3, Follow: true, Idle: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 9 || res.Open <= 0 {
		t.Fatalf("added %d sockets in %s, want 9", res.Added, res.Open)
	}
	if res.StillOpen != 12 || res.Dropped != 0 {
		t.Fatalf("after the idle window Walkie counts %v sockets and %d were dropped, want 12 and none", res.StillOpen, res.Dropped)
	}
	// Each socket has goroutines and a file descriptor in Walkie: the
	// readings must see them.
	if res.After.goroutines <= res.Before.goroutines || res.After.openFDs < res.Before.openFDs+9 {
		t.Fatalf("goroutines %v -> %v, open files %v -> %v: the readings missed the sockets",
			res.Before.goroutines, res.After.goroutines, res.Before.openFDs, res.After.openFDs)
	}
	if res.Before.rss <= 0 || res.After.heapInuse <= 0 || res.IdleBefore.wall <= 0 || res.IdleAfter.wall <= 0 {
		t.Fatalf("readings: before %+v, after %+v, idle %+v / %+v", res.Before, res.After, res.IdleBefore, res.IdleAfter)
	}
	var out bytes.Buffer
	res.Report(&out)
	if !strings.Contains(out.String(), "per socket") || !strings.Contains(out.String(), "CPU at rest") {
		t.Fatalf("report: %s", out.String())
	}
}
