// Package livekit is Walkie's side of a LiveKit SFU for rooms in live mode
// (PROTOCOL.md "Live mode"): the LiveKit room and participant names that
// MatrixRTC clients expect, the join tokens Walkie mints (subscribe, never
// publish), the room service calls that give and take the publish
// permission, and the verification of LiveKit's webhooks.
//
// It imports no other Walkie package: the decision path (internal/decide
// and its outbox) and the token service (internal/rtcauth) use it, and it
// hands them plain values.
//
// # Names, as the MatrixRTC ecosystem derives them
//
// Element Call does not derive the LiveKit room name itself: it asks the
// focus's token service (element-hq/lk-jwt-service, or Walkie) and reads
// the name out of the JWT it gets back (video.room). It does derive
// participant identities itself, to match LiveKit participants to call
// members (and their media keys), so identities must be exactly what
// clients compute. Checked against lk-jwt-service at a375b13 (2026-07)
// and its tags, matrix-js-sdk at 8fec0cb (src/matrixrtc/CallMembership.ts,
// membershipData/rtc.ts) and element-call at b51a33c
// (src/livekit/openIDSFU.ts):
//
//   - Room name, both endpoints: unpadded standard base64 of SHA-256 of the
//     JSON array [room_id, slot_id]; /sfu/get has no slot and uses
//     "m.call#ROOM", which /get_token clients send for a room call, so both
//     request shapes meet in one LiveKit room (lk-jwt-service since v0.4.3,
//     2026-04; RoomName). Earlier: up to v0.3.0 /sfu/get used the Matrix
//     room ID itself as the LiveKit room name; v0.4.0 /get_token used hex
//     SHA-256 of room_id + "|" + slot_id; v0.4.1 and v0.4.2 used unpadded
//     base64 of SHA-256 of room_id + "|" + slot_id for both.
//   - Identity for /sfu/get (legacy m.call.member sessions): the user ID, a
//     colon and the device ID, "@alice:example.org:DEVICE" (LegacyIdentity;
//     matrix-js-sdk derives "<sender>:<device_id>" for such members).
//   - Identity for /get_token (MSC4143 m.rtc.member): unpadded standard
//     base64 of SHA-256 of the JSON array [user_id, device_id, member.id]
//     (MemberIdentity; matrix-js-sdk computeRtcIdentityRaw). The device ID
//     is the client's claim: an OpenID token proves the user, not the
//     device.
//
// The JSON is Matrix canonical JSON, as MSC4195 says and matrix-js-sdk
// computes it (JSON.stringify); both MSC4195 test vectors pass.
// lk-jwt-service uses Go's json.Marshal, which differs only for '<', '>',
// '&', U+2028 and U+2029, characters no generated room ID has.
//
// MSC4195's current draft goes further (identity from [sender, member.id],
// tokens from the homeserver at /_matrix/client/v1/rtc/livekit/get_token);
// no client deploys that yet, and Walkie follows the clients.
//
// # The permission set
//
// A LiveKit token that leaves canPublish out may publish, and
// canPublishData follows canPublish; UpdateParticipant replaces the whole
// permission set. So every token and every update carries the full set
// (Permission): subscribe yes; publish only when the floor says so, and
// then only the microphone; data, metadata updates, hidden, recorder and
// agent no.
//
// A granted participant gets a refreshed token from the server carrying
// canPublish true (LiveKit sends one on every permission change, valid
// at least 10 minutes). A client that keeps it can join again with it
// after its turn and publish; the decision path must answer a join or a
// track publication by anyone but the holder with SetPublish(false).
package livekit
