package rtcauth

import (
	"strings"
	"unicode"

	"github.com/walkie-ptt/walkie/internal/livekit"
	"github.com/walkie-ptt/walkie/internal/openid"
)

// legacyRequest is the body of /sfu/get (m.call.member sessions).
type legacyRequest struct {
	Room        string       `json:"room"`
	OpenIDToken openid.Token `json:"openid_token"`
	DeviceID    string       `json:"device_id"`
}

// memberRequest is the body of /get_token (MSC4143 m.rtc.member).
type memberRequest struct {
	RoomID      string       `json:"room_id"`
	SlotID      string       `json:"slot_id"`
	OpenIDToken openid.Token `json:"openid_token"`
	Member      struct {
		ID              string `json:"id"`
		ClaimedUserID   string `json:"claimed_user_id"`
		ClaimedDeviceID string `json:"claimed_device_id"`
	} `json:"member"`
}

// tokenRequest is either shape, checked and brought to one.
type tokenRequest struct {
	roomID   string
	token    openid.Token
	deviceID string
	// claimedUser is the user the client says it is (get_token only):
	// it must be the one the OpenID token proves.
	claimedUser string
	// identity derives the LiveKit identity from the proven user.
	identity func(userID string) string
}

func (r legacyRequest) check() (tokenRequest, *matrixError) {
	switch {
	case r.Room == "" || r.DeviceID == "":
		return tokenRequest{}, badJSON("the request needs room, openid_token and device_id")
	case !isRoomID(r.Room):
		return tokenRequest{}, invalidParam("room is not a Matrix room ID")
	case !isPlainID(r.DeviceID):
		return tokenRequest{}, invalidParam("device_id is not a device ID")
	}
	if e := checkToken(r.OpenIDToken); e != nil {
		return tokenRequest{}, e
	}
	return tokenRequest{
		roomID: r.Room, token: r.OpenIDToken, deviceID: r.DeviceID,
		identity: func(user string) string { return livekit.LegacyIdentity(user, r.DeviceID) },
	}, nil
}

func (r memberRequest) check() (tokenRequest, *matrixError) {
	m := r.Member
	switch {
	case r.RoomID == "" || r.SlotID == "":
		return tokenRequest{}, badJSON("the request needs room_id and slot_id")
	case m.ID == "" || m.ClaimedUserID == "" || m.ClaimedDeviceID == "":
		return tokenRequest{}, badJSON("the request's member needs id, claimed_user_id and claimed_device_id")
	case !isRoomID(r.RoomID):
		return tokenRequest{}, invalidParam("room_id is not a Matrix room ID")
	case r.SlotID != livekit.CallSlot:
		return tokenRequest{}, invalidParam("Walkie serves only the slot " + livekit.CallSlot + " (a room's call)")
	case !isPlainID(m.ID) || !isPlainID(m.ClaimedDeviceID):
		return tokenRequest{}, invalidParam("member.id or member.claimed_device_id is not an ID")
	}
	if e := checkToken(r.OpenIDToken); e != nil {
		return tokenRequest{}, e
	}
	return tokenRequest{
		roomID: r.RoomID, token: r.OpenIDToken, deviceID: m.ClaimedDeviceID, claimedUser: m.ClaimedUserID,
		identity: func(user string) string { return livekit.MemberIdentity(user, m.ClaimedDeviceID, m.ID) },
	}, nil
}

// checkToken: the parts every client sends; the verifier checks the rest.
func checkToken(t openid.Token) *matrixError {
	if t.AccessToken == "" || t.MatrixServerName == "" {
		return badJSON("openid_token needs access_token and matrix_server_name")
	}
	return nil
}

// maxIDLength bounds the IDs of a request, as the spec bounds room and
// user IDs.
const maxIDLength = 255

func isRoomID(s string) bool {
	_, server, ok := strings.Cut(s, ":")
	return ok && strings.HasPrefix(s, "!") && server != "" && isPlainID(s)
}

// isPlainID: not too long, and no control characters or spaces, which no
// client-made ID holds and a log line should not carry.
func isPlainID(s string) bool {
	return len(s) <= maxIDLength && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.IsSpace(r)
	})
}
