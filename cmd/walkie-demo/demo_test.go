package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemoScript runs `make demo`'s script to the end on the real stack and
// checks the transcript tells the story it promises.
func TestDemoScript(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := demo(ctx, &out, false); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	transcript := out.String()
	for _, want := range []string{
		"Walkie answers alice: granted",
		"Walkie answers bob: queued (floor_taken), position 1",
		"audio chunk from alice",
		"bob (RADIO) holds the floor, term 2",
		"Walkie answers carol: denied (listen_only)",
		"Walkie redacted an event",
		"Walkie answers bob: revoked (no_media)",
		"/metrics",
	} {
		if !strings.Contains(transcript, want) {
			t.Errorf("transcript lacks %q:\n%s", want, transcript)
		}
	}
}
