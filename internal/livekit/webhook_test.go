package livekit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/webhook"
	"github.com/rs/zerolog"
)

const (
	hookKey    = "walkie"
	hookSecret = "0123456789abcdef0123456789abcdef"
)

const trackPublishedBody = `{"event":"track_published","id":"EV_1","createdAt":"1700000000",
"room":{"name":"ROOM"},
"participant":{"identity":"@alice:example.org:PHONE","attributes":{"walkie.user_id":"@alice:example.org","walkie.device_id":"PHONE"},
 "permission":{"canPublish":true}},
"track":{"sid":"TR_1","source":"MICROPHONE","type":"AUDIO"}}`

// signedRequest is a webhook as LiveKit sends one: a JWT, signed with
// secret, whose sha256 claim is the body's hash.
func signedRequest(t *testing.T, body, key, secret string) *http.Request {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	jwt, err := auth.NewAccessToken(key, secret).SetValidFor(5 * time.Minute).
		SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/livekit/webhook", strings.NewReader(body))
	r.Header.Set("Authorization", jwt)
	r.Header.Set("Content-Type", webhook.ContentType)
	return r
}

func TestWebhookVerifiedIntoAnEvent(t *testing.T) {
	ev, ok, err := NewWebhooks(hookKey, hookSecret).Receive(signedRequest(t, trackPublishedBody, hookKey, hookSecret))
	if err != nil || !ok {
		t.Fatalf("Receive = %v, %v", ok, err)
	}
	want := Event{
		ID: "EV_1", Kind: TrackPublished, Room: "ROOM",
		Participant: Participant{Identity: "@alice:example.org:PHONE", UserID: "@alice:example.org", DeviceID: "PHONE",
			CanPublish: true, JoinedAt: time.Unix(0, 0)},
		TrackSID: "TR_1", Microphone: true, At: time.Unix(1700000000, 0),
	}
	if ev != want {
		t.Fatalf("event\n %+v\nwant\n %+v", ev, want)
	}
}

func TestWebhookForgeriesRefused(t *testing.T) {
	hooks := NewWebhooks(hookKey, hookSecret)
	tampered := signedRequest(t, trackPublishedBody, hookKey, hookSecret)
	tampered.Body = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Replace(trackPublishedBody, "PHONE", "OTHER", 1))).Body
	unsigned := signedRequest(t, trackPublishedBody, hookKey, hookSecret)
	unsigned.Header.Del("Authorization")
	for name, r := range map[string]*http.Request{
		"another secret": signedRequest(t, trackPublishedBody, hookKey, strings.Repeat("x", 32)),
		"another key":    signedRequest(t, trackPublishedBody, "other", hookSecret),
		"changed body":   tampered,
		"no signature":   unsigned,
	} {
		if _, _, err := hooks.Receive(r); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: Receive = %v, want ErrUnverified", name, err)
		}
	}
}

func TestWebhookHandler(t *testing.T) {
	var got []Event
	sinkErr := error(nil)
	h := WebhookHandler(NewWebhooks(hookKey, hookSecret), func(_ context.Context, ev Event) error {
		got = append(got, ev)
		return sinkErr
	}, zerolog.Nop())
	serve := func(r *http.Request) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := serve(signedRequest(t, trackPublishedBody, hookKey, "forged-forged-forged-forged-forged")); code != http.StatusUnauthorized || len(got) != 0 {
		t.Fatalf("forged: %d with %d events, want 401 and none", code, len(got))
	}
	if code := serve(signedRequest(t, `{"event":"room_started","room":{"name":"ROOM"}}`, hookKey, hookSecret)); code != http.StatusOK || len(got) != 0 {
		t.Fatalf("room_started: %d with %d events, want 200 and none", code, len(got))
	}
	if code := serve(signedRequest(t, `{"event":"track_published","room":{"name":"ROOM"}}`, hookKey, hookSecret)); code != http.StatusBadRequest {
		t.Fatalf("a track event without its track: %d, want 400", code)
	}
	if code := serve(signedRequest(t, trackPublishedBody, hookKey, hookSecret)); code != http.StatusOK || len(got) != 1 {
		t.Fatalf("verified: %d with %d events, want 200 and one", code, len(got))
	}
	sinkErr = errors.New("database down")
	if code := serve(signedRequest(t, trackPublishedBody, hookKey, hookSecret)); code != http.StatusInternalServerError {
		t.Fatalf("sink failure: %d, want 500 (LiveKit retries)", code)
	}
	get := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(nil))
	if code := serve(get); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d, want 405", code)
	}
}
