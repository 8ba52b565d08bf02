package livekit

import (
	"errors"
	"time"

	"github.com/livekit/protocol/auth"
)

// Participant attributes that Walkie's tokens carry, so that a LiveKit
// participant (in a listing or a webhook) names the Matrix user and device
// Walkie verified, whatever its identity is derived from.
const (
	AttrUserID   = "walkie.user_id"
	AttrDeviceID = "walkie.device_id"
)

// Member is whom a token is for: the Matrix user (as the OpenID check
// proved), the device (as the client claims it) and the LiveKit identity
// derived from them.
type Member struct {
	UserID   string
	DeviceID string
	Identity string
}

// Minter mints LiveKit join tokens with Walkie's API key.
type Minter struct {
	key, secret string
	ttl         time.Duration
}

// NewMinter mints tokens with key and secret that are valid for ttl (a
// join must happen within it; LiveKit refreshes the token of a connected
// participant itself).
func NewMinter(key, secret string, ttl time.Duration) *Minter {
	return &Minter{key: key, secret: secret, ttl: ttl}
}

// Mint returns a token that lets who join room (which it may not create)
// and subscribe, and not publish: the floor grants that later
// (Rooms.SetPublish). Every permission is set explicitly (permission).
func (m *Minter) Mint(room string, who Member) (string, error) {
	if room == "" || who.Identity == "" || who.UserID == "" {
		return "", errors.New("livekit: a token needs a room, an identity and a user")
	}
	grant := &auth.VideoGrant{RoomJoin: true, Room: room}
	grant.UpdateFromPermission(permission(false))
	return auth.NewAccessToken(m.key, m.secret).
		SetVideoGrant(grant).
		SetIdentity(who.Identity).
		SetAttributes(map[string]string{AttrUserID: who.UserID, AttrDeviceID: who.DeviceID}).
		SetValidFor(m.ttl).
		ToJWT()
}
