package floorchannel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/openid"
)

// Message types, client to Walkie.
const (
	typeAuth        = "auth"
	typeSubscribe   = "subscribe"
	typeUnsubscribe = "unsubscribe"
	typeRequest     = "request"
	typeRelease     = "release"
	typeCancel      = "cancel"
)

// Message types, Walkie to client.
const (
	typeReady    = "ready"
	typeFloor    = "floor"
	typeResponse = "response"
	typeError    = "error"
)

// Error codes of "error" messages: Matrix's, as client developers know them.
const (
	errNotJSON      = "M_NOT_JSON"
	errBadJSON      = "M_BAD_JSON"
	errUnrecognized = "M_UNRECOGNIZED"
	errForbidden    = "M_FORBIDDEN"
	errNotFound     = "M_NOT_FOUND"
	errLimit        = "M_LIMIT_EXCEEDED"
	errUnknown      = "M_UNKNOWN"
)

// clientMessage is any message a client sends; which fields count depends
// on Type.
type clientMessage struct {
	Type string `json:"type"`
	// auth
	OpenID   *openid.Token `json:"openid"`
	DeviceID string        `json:"device_id"`
	// UserID, when given, is who the client believes it is: a token of
	// anyone else is refused instead of silently taken.
	UserID string `json:"user_id"`
	// subscribe, unsubscribe, request, release, cancel
	RoomID string `json:"room_id"`
	// ID is the client's name for a request, echoed in its response and
	// errors.
	ID      string `json:"id"`
	Term    int64  `json:"term"`
	Preempt bool   `json:"preempt"`
}

// Bounds of client-chosen values.
const (
	maxIDBytes       = 128
	maxRoomIDBytes   = 255
	maxDeviceIDBytes = 255 // as for talk permits
)

// protocolError is an error message for the client.
type protocolError struct {
	code, msg string
}

func (e *protocolError) Error() string { return e.code + ": " + e.msg }

func badJSON(format string, args ...any) *protocolError {
	return &protocolError{code: errBadJSON, msg: fmt.Sprintf(format, args...)}
}

// parseMessage decodes a client message and checks the fields its type
// needs. The message's id is returned even when it is invalid otherwise,
// so the error can name it.
func parseMessage(data []byte) (clientMessage, *protocolError) {
	var m clientMessage
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	notJSON := &protocolError{code: errNotJSON, msg: "a message is one JSON object"}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return m, notJSON
	}
	// Unmarshal checks the whole input is valid JSON before it decodes
	// anything, so a syntax error comes first and alone.
	if err := json.Unmarshal(data, &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return clientMessage{}, notJSON
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return clientMessage{}, badJSON("%s must be %s", te.Field, kindName(te.Type.Kind()))
		}
		return clientMessage{}, badJSON("%v", err)
	}
	if len(m.ID) > maxIDBytes || !utf8.ValidString(m.ID) {
		id := m.ID
		m.ID = ""
		return m, badJSON("id is longer than %d bytes (%d)", maxIDBytes, len(id))
	}
	switch m.Type {
	case typeAuth:
		switch {
		case m.OpenID == nil:
			return m, badJSON("auth needs openid: the object /_matrix/client/v3/user/{userId}/openid/request_token returns")
		case m.DeviceID == "" || len(m.DeviceID) > maxDeviceIDBytes:
			return m, badJSON("auth needs a device_id of 1 to %d bytes", maxDeviceIDBytes)
		}
	case typeSubscribe, typeUnsubscribe:
		if err := checkRoomID(m.RoomID); err != nil {
			return m, err
		}
	case typeRequest, typeRelease, typeCancel:
		if err := checkRoomID(m.RoomID); err != nil {
			return m, err
		}
		switch {
		case m.ID == "":
			return m, badJSON("%s needs an id, which its response will carry", m.Type)
		case m.Term < 0:
			return m, badJSON("term must not be negative")
		}
	case "":
		return m, badJSON("a message needs a type")
	default:
		return m, &protocolError{code: errUnrecognized, msg: fmt.Sprintf("unknown message type %q", m.Type)}
	}
	return m, nil
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Int64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	}
	return "an object"
}

func checkRoomID(id string) *protocolError {
	if !strings.HasPrefix(id, "!") || len(id) > maxRoomIDBytes || !utf8.ValidString(id) {
		return badJSON("room_id must be a room ID (!...) of at most %d bytes", maxRoomIDBytes)
	}
	return nil
}

// action is the talk_request action of a request message.
func action(messageType string) string {
	switch messageType {
	case typeRelease:
		return floor.ActionRelease
	case typeCancel:
		return floor.ActionCancel
	}
	return floor.ActionRequest
}

// Walkie's messages. Each is encoded once, however many sockets get it.

type readyMessage struct {
	Type     string `json:"type"`
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
}

// floorMessage is the room's floor state (the content of
// org.matrix.msc4002.floor) with the room and its version: a push with a
// version at or below one already seen for the room is older news.
type floorMessage struct {
	Type    string `json:"type"`
	RoomID  string `json:"room_id"`
	Version int64  `json:"version"`
	floor.FloorState
}

// responseMessage is a talk_response's content for the request named id.
type responseMessage struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	RoomID string `json:"room_id"`
	floor.Response
}

type errorMessage struct {
	Type    string `json:"type"`
	ID      string `json:"id,omitempty"`
	RoomID  string `json:"room_id,omitempty"`
	ErrCode string `json:"errcode"`
	Error   string `json:"error"`
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("floorchannel: encode %T: %v", v, err)) // Walkie's own types: cannot fail
	}
	return b
}

func floorPush(roomID string, version int64, fs floor.FloorState) []byte {
	if fs.Queue == nil {
		fs.Queue = []floor.Device{} // "queue": [] as in the room's floor state
	}
	return encode(floorMessage{Type: typeFloor, RoomID: roomID, Version: version, FloorState: fs})
}

func errorPush(m clientMessage, e *protocolError) []byte {
	return encode(errorMessage{Type: typeError, ID: m.ID, RoomID: m.RoomID, ErrCode: e.code, Error: e.msg})
}
