package openid

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeHomeserver answers userinfo for the tokens it knows and counts the
// questions.
type fakeHomeserver struct {
	*httptest.Server
	mu     sync.Mutex
	tokens map[string]string // access token → sub
	asked  atomic.Int32
	// answer, when set, replaces the normal answer.
	answer func(w http.ResponseWriter)
	// gate, when set, holds every answer until it is closed.
	gate chan struct{}
}

func newFakeHomeserver(t *testing.T) *fakeHomeserver {
	hs := &fakeHomeserver{tokens: map[string]string{}}
	hs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_matrix/federation/v1/openid/userinfo" || r.Method != http.MethodGet {
			http.Error(w, `{"errcode":"M_UNRECOGNIZED"}`, http.StatusNotFound)
			return
		}
		hs.asked.Add(1)
		if hs.gate != nil {
			<-hs.gate
		}
		if hs.answer != nil {
			hs.answer(w)
			return
		}
		hs.mu.Lock()
		sub, ok := hs.tokens[r.URL.Query().Get("access_token")]
		hs.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errcode":"M_UNKNOWN_TOKEN","error":"Access Token unknown or expired"}`)
			return
		}
		fmt.Fprintf(w, `{"sub":%q}`, sub)
	}))
	t.Cleanup(hs.Close)
	return hs
}

func (hs *fakeHomeserver) issue(token, sub string) {
	hs.mu.Lock()
	hs.tokens[token] = sub
	hs.mu.Unlock()
}

func newVerifier(t *testing.T, hs *fakeHomeserver, opts Options) *Verifier {
	t.Helper()
	opts.Servers = map[string]string{"example.org": hs.URL}
	v, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func token(access string, expiresIn int64) Token {
	return Token{AccessToken: access, TokenType: "Bearer", MatrixServerName: "example.org", ExpiresIn: expiresIn}
}

func TestVerifyAsksTheHomeserver(t *testing.T) {
	hs := newFakeHomeserver(t)
	hs.issue("good", "@alice:example.org")
	hs.issue("foreign", "@mallory:evil.example")
	v := newVerifier(t, hs, Options{})
	ctx := context.Background()

	if user, err := v.Verify(ctx, token("good", 3600)); err != nil || user != "@alice:example.org" {
		t.Fatalf("good token: %q, %v", user, err)
	}
	for _, tc := range []struct {
		name string
		tok  Token
		want error
	}{
		{"unknown token", token("made-up", 3600), ErrRejected},
		{"user of another server", token("foreign", 3600), ErrWrongServer},
		{"server nobody configured", Token{AccessToken: "good", TokenType: "Bearer", MatrixServerName: "other.org", ExpiresIn: 3600}, ErrUnknownServer},
		{"no access token", token("", 3600), ErrMalformed},
		{"token with a space", token("a b", 3600), ErrMalformed},
		{"wrong token type", Token{AccessToken: "good", TokenType: "MAC", MatrixServerName: "example.org", ExpiresIn: 3600}, ErrMalformed},
		{"bad server name", Token{AccessToken: "good", TokenType: "Bearer", MatrixServerName: "example.org/x", ExpiresIn: 3600}, ErrMalformed},
		{"absolute expiry in the past (Dendrite's form)", token("good", time.Now().Add(-time.Minute).Unix()), ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hs.asked.Load()
			user, err := v.Verify(ctx, tc.tok)
			if !errors.Is(err, tc.want) || user != "" {
				t.Fatalf("got %q, %v; want %v", user, err, tc.want)
			}
			if strings.Contains(err.Error(), "good") || strings.Contains(err.Error(), "made-up") {
				t.Errorf("the error shows the token: %v", err)
			}
			asked := hs.asked.Load() != before
			if shouldAsk := tc.want == ErrRejected || tc.want == ErrWrongServer; asked != shouldAsk {
				t.Errorf("asked the homeserver: %v, want %v", asked, shouldAsk)
			}
		})
	}
}

func TestVerifyMapsHomeserverFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter)
		want   error
	}{
		{"federation off (Dendrite)", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}`)
		}, ErrUnavailable},
		{"server error", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, ErrUnavailable},
		{"forbidden", func(w http.ResponseWriter) { w.WriteHeader(http.StatusForbidden) }, ErrRejected},
		{"no sub", func(w http.ResponseWriter) { fmt.Fprint(w, `{}`) }, ErrUnavailable},
		{"sub is no user ID", func(w http.ResponseWriter) { fmt.Fprint(w, `{"sub":"alice"}`) }, ErrUnavailable},
		{"endless answer", func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"sub":"@alice:example.org","x":"`+strings.Repeat("x", maxAnswerBytes)+`"}`)
		}, ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newFakeHomeserver(t)
			hs.answer = tc.answer
			v := newVerifier(t, hs, Options{})
			if user, err := v.Verify(context.Background(), token("tok", 3600)); !errors.Is(err, tc.want) {
				t.Fatalf("got %q, %v; want %v", user, err, tc.want)
			}
		})
	}
}

func TestVerifyUnreachableHomeserverHidesTheToken(t *testing.T) {
	hs := newFakeHomeserver(t)
	v := newVerifier(t, hs, Options{})
	hs.Close() // nothing listens there now
	_, err := v.Verify(context.Background(), token("secret-token-value", 3600))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "secret-token-value") {
		t.Fatalf("the error shows the token: %v", err)
	}
}

func TestVerifyRemembersForTheTokensLifetime(t *testing.T) {
	hs := newFakeHomeserver(t)
	hs.issue("tok", "@alice:example.org")
	v := newVerifier(t, hs, Options{MaxLifetime: time.Hour})
	now := time.Unix(1_800_000_000, 0)
	v.now = func() time.Time { return now }
	ctx := context.Background()
	verify := func(tok Token) {
		t.Helper()
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name      string
		advance   time.Duration
		tok       Token
		wantAsked int32
	}{
		{"first use asks", 0, token("tok", 600), 1},
		{"reuse within the token's 10 minutes is remembered", 9 * time.Minute, token("tok", 600), 1},
		{"after the token's own lifetime it asks again", 2 * time.Minute, token("tok", 7200), 2},
		{"a longer claimed lifetime is capped by MaxLifetime", 59 * time.Minute, token("tok", 7200), 2},
		{"past MaxLifetime it asks again", 2 * time.Minute, token("tok", 7200), 3},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		verify(s.tok)
		if got := hs.asked.Load(); got != s.wantAsked {
			t.Fatalf("%s: asked %d times, want %d", s.name, got, s.wantAsked)
		}
	}

	// Dendrite's absolute expires_in: remembered until that time only.
	hs.issue("dendrite", "@bob:example.org")
	verify(token("dendrite", now.Add(5*time.Minute).Unix()))
	now = now.Add(4 * time.Minute)
	verify(token("dendrite", now.Add(time.Minute).Unix()))
	if got := hs.asked.Load(); got != 4 {
		t.Fatalf("absolute expiry: asked %d times, want 4", got)
	}
	now = now.Add(2 * time.Minute)
	if _, err := v.Verify(ctx, token("dendrite", now.Add(-time.Minute).Unix())); !errors.Is(err, ErrExpired) {
		t.Fatalf("after the absolute expiry: %v, want ErrExpired", err)
	}

	// A rejected token is not remembered: it is asked about every time.
	before := hs.asked.Load()
	for range 2 {
		if _, err := v.Verify(ctx, token("unknown", 600)); !errors.Is(err, ErrRejected) {
			t.Fatal(err)
		}
	}
	if got := hs.asked.Load() - before; got != 2 {
		t.Fatalf("a rejected token: asked %d times, want 2", got)
	}
}

func TestVerifyAsksOnceForConcurrentUses(t *testing.T) {
	hs := newFakeHomeserver(t)
	hs.issue("tok", "@alice:example.org")
	hs.gate = make(chan struct{})
	v := newVerifier(t, hs, Options{})
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			user, err := v.Verify(context.Background(), token("tok", 600))
			if err == nil && user != "@alice:example.org" {
				err = fmt.Errorf("user %q", user)
			}
			errs <- err
		}()
	}
	// Wait until the first question is at the homeserver and the others
	// wait for it, then let it answer.
	deadline := time.Now().Add(10 * time.Second)
	for hs.asked.Load() == 0 || v.waiting() < n-1 {
		if time.Now().After(deadline) {
			t.Fatalf("asked %d, waiting %d", hs.asked.Load(), v.waiting())
		}
		time.Sleep(time.Millisecond)
	}
	close(hs.gate)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := hs.asked.Load(); got != 1 {
		t.Fatalf("asked %d times, want 1", got)
	}
}

func TestVerifyCacheStaysBounded(t *testing.T) {
	hs := newFakeHomeserver(t)
	v := newVerifier(t, hs, Options{MaxEntries: 3})
	for i := range 10 {
		tok := fmt.Sprintf("tok%d", i)
		hs.issue(tok, "@alice:example.org")
		if _, err := v.Verify(context.Background(), token(tok, 600)); err != nil {
			t.Fatal(err)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) > 3 {
		t.Fatalf("%d entries, want at most 3", len(v.cache))
	}
}
