package livekit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"

	lktest "github.com/walkie-ptt/walkie/internal/testkit/livekit"
)

// The token says every permission explicitly: an omitted canPublish would
// let its bearer publish, and canPublishData would follow it.
func TestMintSetsEveryPermissionExplicitly(t *testing.T) {
	m := NewMinter("key", strings.Repeat("s", 32), time.Hour)
	who := Member{UserID: "@alice:example.org", DeviceID: "PHONE", Identity: LegacyIdentity("@alice:example.org", "PHONE")}
	jwt, err := m.Mint(RoomName("!r:example.org"), who)
	if err != nil {
		t.Fatal(err)
	}

	// The payload as LiveKit and clients read it.
	claims, err := lktest.ReadClaims(jwt)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"roomJoin":             true,
		"room":                 RoomName("!r:example.org"),
		"canPublish":           false,
		"canSubscribe":         true,
		"canPublishData":       false,
		"canPublishSources":    []any{"microphone"},
		"canUpdateOwnMetadata": false,
	}
	for k, v := range want {
		got, ok := claims.Video[k]
		if !ok {
			t.Errorf("video.%s is missing from the token (%v)", k, claims.Video)
			continue
		}
		if g, _ := json.Marshal(got); string(g) != mustJSON(t, v) {
			t.Errorf("video.%s = %s, want %s", k, g, mustJSON(t, v))
		}
	}
	for _, k := range []string{"roomCreate", "roomAdmin", "roomList", "hidden", "recorder"} {
		if v, ok := claims.Video[k]; ok && v != false {
			t.Errorf("video.%s = %v, want absent or false", k, v)
		}
	}
	if claims.Sub != who.Identity || claims.Attributes[AttrUserID] != who.UserID || claims.Attributes[AttrDeviceID] != who.DeviceID {
		t.Errorf("sub %q, attributes %v; want %q and the user and device", claims.Sub, claims.Attributes, who.Identity)
	}

	// And as the server verifies it.
	v, err := auth.ParseAPIToken(jwt)
	if err != nil {
		t.Fatal(err)
	}
	if _, grants, err := v.Verify(strings.Repeat("s", 32)); err != nil || grants.Video.GetCanPublish() || grants.Video.GetCanPublishData() {
		t.Fatalf("verified grants %+v, %v: want valid, no publishing", grants, err)
	}
}

func TestMintRefusesAnIncompleteMember(t *testing.T) {
	m := NewMinter("key", strings.Repeat("s", 32), time.Hour)
	if _, err := m.Mint("room", Member{UserID: "@a:b"}); err == nil {
		t.Error("a token without an identity was minted")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
