package livekit

import "testing"

// The expected values are MSC4195's test vectors (appendix "hash
// derivation test vectors", also in lk-jwt-service's tests) and, for the
// rest, what node computes with JSON.stringify and crypto's SHA-256, as
// matrix-js-sdk's computeRtcIdentityRaw does.
func TestRoomNames(t *testing.T) {
	for _, c := range []struct{ room, slot, want string }{
		{"!roomid:example.com", "slot1234", "O8437W3+jmzMVjoIP3tNwbm+XxHQk2iKpOA7aqw3qSc"},
		{"!abc:example.org", CallSlot, "9YzbCxM8P0fwObUtiQ9m/ujMP9ruNMxS7SOsugBEaxA"},
	} {
		if got := SlotRoomName(c.room, c.slot); got != c.want {
			t.Errorf("SlotRoomName(%q, %q) = %q, want %q", c.room, c.slot, got, c.want)
		}
	}
	if RoomName("!abc:example.org") != SlotRoomName("!abc:example.org", "m.call#ROOM") {
		t.Error("RoomName is not the m.call#ROOM slot's name")
	}
}

func TestIdentities(t *testing.T) {
	for _, c := range []struct{ user, device, member, want string }{
		{"@alice:example.com", "DEVICE123", "memberABC", "J+T45tGruxc+HrUOqJJlyQSV33m728Cme4+vt8/SWrU"},
		{"@alice:example.org", "DEVICE", "9a8b7c", "WJJtyCy22vHImpDPlHteUd5Wk1RM80rXdsEydPQZLlM"},
		// Characters Go's json.Marshal would escape and JSON.stringify does not.
		{"@a<b>&c:example.org", "DEV\u2028\n\u0001\"\\", "m", "H0LXjhFlZfwhgjSLjGNoyDqUI2ZL4dJognIIq/vK/w4"},
	} {
		if got := MemberIdentity(c.user, c.device, c.member); got != c.want {
			t.Errorf("MemberIdentity(%q, %q, %q) = %q, want %q", c.user, c.device, c.member, got, c.want)
		}
	}
	if got := LegacyIdentity("@alice:example.org", "PHONE"); got != "@alice:example.org:PHONE" {
		t.Errorf("LegacyIdentity = %q", got)
	}
}

// node -e 'console.log(JSON.stringify(["@a<b>&c:example.org","DEV\u2028\n\u0001\"\\\u007f\u00e9","m"]))'
func TestCanonicalStringsIsJSONStringify(t *testing.T) {
	got := canonicalStrings("@a<b>&c:example.org", "DEV\u2028\n\u0001\"\\\u007f\u00e9", "m")
	want := "[\"@a<b>&c:example.org\",\"DEV\u2028\\n\\u0001\\\"\\\\\u007f\u00e9\",\"m\"]"
	if got != want {
		t.Errorf("canonicalStrings = %q, want %q", got, want)
	}
	if got := canonicalStrings("\xff"); got != "[\"\uFFFD\"]" {
		t.Errorf("invalid UTF-8 gives %q, want U+FFFD", got)
	}
}
