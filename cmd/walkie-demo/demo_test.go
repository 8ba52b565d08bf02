package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// transcript is the demo's output, read while the demo still writes it.
type transcript struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *transcript) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.Write(p)
}

func (t *transcript) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// TestDemo runs `make demo` on the real stack: the script to the end,
// checking the transcript tells the story it promises, then the web
// client it offers, whose printed URL must answer with the client's
// configuration, until the demo is interrupted.
func TestDemo(t *testing.T) {
	out := runDemo(t, options{script: true, wait: true})
	for _, want := range []string{
		"Walkie answers alice: granted",
		"Walkie answers bob: queued (floor_taken), position 1",
		"audio chunk from alice",
		"bob (RADIO) holds the floor, term 2",
		"Walkie answers carol: denied (listen_only)",
		"Walkie redacted an event",
		"Walkie answers bob: revoked (no_media)",
		"/metrics",
		"alice / demo-password-alice",
		"Tearing down.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
}

// TestDemoLive runs `make demo DEMO_FLAGS="-client-only -live"`: LiveKit
// starts too, and the room is in live mode (Walkie's floor state says so)
// before the web client is offered.
func TestDemoLive(t *testing.T) {
	out := runDemo(t, options{wait: true, live: true})
	for _, want := range []string{"switches the room to live mode", "The room is in live mode", "Tearing down."} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
}

// runDemo runs the demo until it offers the web client, checks the
// client's configuration answers at the printed URL, interrupts it
// (Ctrl-C) and returns its transcript.
func runDemo(t *testing.T, opts options) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	interrupt, stop := context.WithCancel(ctx)
	defer stop()
	out := &transcript{}
	done := make(chan error, 1)
	go func() { done <- demo(interrupt, out, opts) }()

	var clientURL string
	for clientURL == "" {
		if m := regexp.MustCompile(`Web client: (http://\S+)`).FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "Ctrl-C") {
			clientURL = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("the demo ended before offering the web client: %v\n%s", err, out)
		case <-ctx.Done():
			t.Fatalf("the demo never offered the web client\n%s", out)
		case <-time.After(200 * time.Millisecond):
		}
	}
	resp, err := http.Get(clientURL + "/_walkie/client/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Controller    string `json:"controller"`
		HomeserverURL string `json:"homeserver_url"`
	}
	err = json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if err != nil || cfg.Controller == "" || cfg.HomeserverURL == "" {
		t.Errorf("the web client's config at %s: %+v, %v", clientURL, cfg, err)
	}
	stop() // Ctrl-C
	if err := <-done; err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	return out.String()
}
