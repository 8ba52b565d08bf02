package rtcauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/livekit"
	"github.com/walkie-ptt/walkie/internal/openid"
	"github.com/walkie-ptt/walkie/internal/testkit/dendrite"
	lktest "github.com/walkie-ptt/walkie/internal/testkit/livekit"
	"github.com/walkie-ptt/walkie/internal/testkit/lkpeer"
)

// rooms is the store's side of Access for the test: who is joined where,
// and which rooms are live.
type rooms struct {
	joined map[string][]string
	live   map[string]bool
}

func (r rooms) CheckLive(_ context.Context, roomID, userID string) error {
	for _, u := range r.joined[roomID] {
		if u == userID {
			if !r.live[roomID] {
				return ErrNotLive
			}
			return nil
		}
	}
	return ErrNotJoined
}

// openIDJSON is the openid_token object of a request, from a real token.
func openIDJSON(t *testing.T, tok openid.Token) string {
	t.Helper()
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The service on real parts: OpenID tokens from a real Dendrite, checked
// by the real verifier; tokens for a real LiveKit, which a participant
// joins with. A made-up token, another user's token, a token of a server
// Walkie does not serve, a user who is not joined and a room that is not
// live are refused.
func TestTokenServiceOnDendriteAndLiveKit(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	hs, err := dendrite.Start(ctx, dendrite.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hs.Stop)
	lk, ns := lktest.StartInNamespace(t, ctx, lktest.Options{})

	openIDOf := func(localpart string) (string, openid.Token) {
		user, err := hs.RegisterUser(ctx, localpart, "password-"+localpart, false)
		if err != nil {
			t.Fatal(err)
		}
		client, err := hs.Login(ctx, localpart, "password-"+localpart, "PHONE")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := client.RequestOpenIDToken(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return user.String(), openid.Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType,
			MatrixServerName: tok.MatrixServerName, ExpiresIn: int64(tok.ExpiresIn)}
	}
	alice, aliceToken := openIDOf("alice")
	bob, bobToken := openIDOf("bob")
	const liveRoom, quietRoom = "!live:localhost", "!quiet:localhost"

	verifier, err := openid.New(openid.Options{Servers: map[string]string{hs.ServerName(): hs.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	lkRooms := livekit.NewRooms(lk.APIURL(), lk.APIKey(), lk.APISecret())
	srv := testServer(t, Options{
		URL:      lk.URL(),
		Verifier: verifier,
		Access:   rooms{joined: map[string][]string{liveRoom: {alice}, quietRoom: {alice}}, live: map[string]bool{liveRoom: true}},
		Minter:   livekit.NewMinter(lk.APIKey(), lk.APISecret(), time.Hour),
		Rooms:    lkRooms,
		Log:      zerolog.Nop(),
	})
	getToken := func(room, claimed string, tok openid.Token) string {
		return fmt.Sprintf(`{"room_id":%q,"slot_id":"m.call#ROOM","openid_token":%s,"member":{"id":"member-1","claimed_user_id":%q,"claimed_device_id":"PHONE"},"delay_id":"ignored","delay_timeout":10000}`,
			room, openIDJSON(t, tok), claimed)
	}

	t.Run("get_token gives a listen-only token that joins LiveKit", func(t *testing.T) {
		status, out := post(t, srv, "/livekit/get_token", getToken(liveRoom, alice, aliceToken))
		if status != http.StatusOK || out["url"] != lk.URL() {
			t.Fatalf("%d %v, want 200 with the LiveKit URL", status, out)
		}
		jwt, _ := out["jwt"].(string)
		c, err := lktest.ReadClaims(jwt)
		if err != nil {
			t.Fatal(err)
		}
		sub, video := c.Sub, c.Video
		identity := livekit.MemberIdentity(alice, "PHONE", "member-1")
		if sub != identity || video["room"] != livekit.RoomName(liveRoom) || video["canPublish"] != false || video["roomCreate"] != nil {
			t.Fatalf("sub %q, video %v; want %s in %s, no publishing, no room creation", sub, video, identity, livekit.RoomName(liveRoom))
		}
		peer, err := lkpeer.Start(ctx, ns, lkpeer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(peer.Close)
		if got, err := peer.Join(ctx, out["url"].(string), jwt); err != nil || got != identity {
			t.Fatalf("joined as %q, %v; want %s", got, err, identity)
		}
		ps, err := lkRooms.Participants(ctx, livekit.RoomName(liveRoom))
		if err != nil || len(ps) != 1 || ps[0].UserID != alice || ps[0].DeviceID != "PHONE" || ps[0].CanPublish {
			t.Fatalf("participants %+v, %v; want alice's PHONE, not publishing", ps, err)
		}
	})

	t.Run("sfu/get gives the legacy identity in the same room", func(t *testing.T) {
		status, out := post(t, srv, "/livekit/sfu/get",
			fmt.Sprintf(`{"room":%q,"openid_token":%s,"device_id":"PHONE"}`, liveRoom, openIDJSON(t, aliceToken)))
		if status != http.StatusOK {
			t.Fatalf("%d %v", status, out)
		}
		c, err := lktest.ReadClaims(out["jwt"].(string))
		if err != nil {
			t.Fatal(err)
		}
		sub, video := c.Sub, c.Video
		if sub != alice+":PHONE" || video["room"] != livekit.RoomName(liveRoom) {
			t.Fatalf("sub %q in %v, want %s:PHONE in the room get_token names", sub, video["room"], alice)
		}
	})

	madeUp := aliceToken
	madeUp.AccessToken = "made-up-token"
	foreign := aliceToken
	foreign.MatrixServerName = "elsewhere.example.org"
	for _, c := range []struct {
		name, body, errcode string
		status              int
	}{
		{"a made-up token", getToken(liveRoom, alice, madeUp), "M_UNAUTHORIZED", http.StatusUnauthorized},
		{"another user's token", getToken(liveRoom, alice, bobToken), "M_UNAUTHORIZED", http.StatusUnauthorized},
		{"a token of a server not served", getToken(liveRoom, alice, foreign), "M_FORBIDDEN", http.StatusForbidden},
		{"a user not joined", getToken(liveRoom, bob, bobToken), "M_FORBIDDEN", http.StatusForbidden},
		{"a room not live", getToken(quietRoom, alice, aliceToken), "M_FORBIDDEN", http.StatusForbidden},
	} {
		t.Run(c.name+" is refused", func(t *testing.T) {
			status, out := post(t, srv, "/livekit/get_token", c.body)
			if status != c.status || out["errcode"] != c.errcode || out["jwt"] != nil {
				t.Fatalf("%d %v, want %d %s and no token", status, out, c.status, c.errcode)
			}
			if msg, _ := out["error"].(string); msg == "" || strings.Contains(msg, aliceToken.AccessToken) {
				t.Fatalf("message %q: empty, or it quotes the token", msg)
			}
		})
	}
}
