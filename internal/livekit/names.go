package livekit

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"
)

// CallSlot is the MatrixRTC slot of a room's call (application m.call,
// call ID ""), the one /sfu/get implies.
const CallSlot = "m.call#ROOM"

var unpaddedBase64 = base64.StdEncoding.WithPadding(base64.NoPadding)

// RoomName is the LiveKit room of a Matrix room's call.
func RoomName(matrixRoomID string) string { return SlotRoomName(matrixRoomID, CallSlot) }

// SlotRoomName is the LiveKit room of a MatrixRTC slot in a Matrix room,
// as lk-jwt-service names it.
func SlotRoomName(matrixRoomID, slotID string) string {
	return hashStrings(matrixRoomID, slotID)
}

// LegacyIdentity is the LiveKit identity of a device that asked through
// /sfu/get (an m.call.member session).
func LegacyIdentity(userID, deviceID string) string { return userID + ":" + deviceID }

// MemberIdentity is the LiveKit identity of an MSC4143 RTC member that
// asked through /get_token.
func MemberIdentity(userID, deviceID, memberID string) string {
	return hashStrings(userID, deviceID, memberID)
}

// hashStrings is unpadded base64 of SHA-256 of the canonical JSON array of
// items.
func hashStrings(items ...string) string {
	sum := sha256.Sum256([]byte(canonicalStrings(items...)))
	return unpaddedBase64.EncodeToString(sum[:])
}

// canonicalStrings is the Matrix canonical JSON of an array of strings,
// which for strings is also what JavaScript's JSON.stringify writes: only
// '"', '\\' and control characters are escaped (the short escapes where
// JSON has them, else \u00xx in lower case); everything else, '<', '>',
// '&', U+2028 and U+2029 included, is written as it is (Go's json.Marshal
// escapes those five). Invalid UTF-8, which neither a JavaScript string nor
// canonical JSON can hold, becomes U+FFFD.
func canonicalStrings(items ...string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for _, r := range strings.ToValidUTF8(s, string(utf8.RuneError)) {
			switch r {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				if r < 0x20 {
					fmt.Fprintf(&b, `\u%04x`, r)
				} else {
					b.WriteRune(r)
				}
			}
		}
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}
