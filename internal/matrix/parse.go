package matrix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix/event"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Envelope is the part of a client-server event every handler needs. The
// content stays raw until the type is known, so an event Walkie does not
// care about costs one small decode.
type Envelope struct {
	Type     string          `json:"type"`
	EventID  string          `json:"event_id"`
	RoomID   string          `json:"room_id"`
	Sender   string          `json:"sender"`
	StateKey *string         `json:"state_key,omitempty"`
	Content  json.RawMessage `json:"content"`
	Redacts  string          `json:"redacts,omitempty"`
	// Timestamp is origin_server_ts in milliseconds.
	Timestamp int64 `json:"origin_server_ts,omitempty"`
}

// Limits on identifiers, from the Matrix spec (255 bytes for IDs).
const maxIDLength = 255

// maxTimestampMS is the last millisecond of year 9999: Go cannot encode a
// later time.Time as JSON, so the room's state could not be stored.
const maxTimestampMS = 253402300799999

var errNotObject = errors.New("content is not a JSON object")

// ParseEnvelope decodes and checks the envelope of one event.
func ParseEnvelope(raw []byte) (Envelope, error) {
	var ev Envelope
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, fmt.Errorf("event: %w", err)
	}
	switch {
	case ev.Type == "":
		return ev, errors.New("event: missing type")
	case ev.EventID == "" || len(ev.EventID) > maxIDLength:
		return ev, errors.New("event: missing or oversized event_id")
	case ev.RoomID == "" || len(ev.RoomID) > maxIDLength:
		return ev, errors.New("event: missing or oversized room_id")
	case ev.Sender == "" || len(ev.Sender) > maxIDLength:
		return ev, errors.New("event: missing or oversized sender")
	case strings.ContainsRune(ev.Type+ev.EventID+ev.RoomID+ev.Sender+ev.stateKey()+ev.Redacts, 0):
		return ev, errors.New("event: NUL character in type, IDs or state_key")
	}
	ev.Content = withoutNUL(ev.Content)
	return ev, nil
}

// PostgreSQL can store neither a NUL byte in text nor the \u0000 escape in
// jsonb, and Walkie copies content strings (device IDs, reasons) into
// both: one such event would fail every decision of its room. No Matrix
// identifier may contain NUL, so it becomes U+FFFD, which keeps the event
// readable (a chunk is still enforced) but matches nothing real. JSON can
// carry a NUL only as this escape; in "\\u0000" (an escaped backslash and
// the text u0000) the rewrite changes the text but not its validity.
func withoutNUL(content json.RawMessage) json.RawMessage {
	if !bytes.Contains(content, nulEscape) {
		return content
	}
	return bytes.ReplaceAll(content, nulEscape, []byte(`\ufffd`))
}

var nulEscape = []byte(`\u0000`)

// ValidUTF8 replaces byte sequences that are not UTF-8 with U+FFFD. JSON
// must be UTF-8 and homeservers check it, but an event with such bytes
// would fail the inbox insert (PostgreSQL checks encodings), and with it
// the whole transaction, which the homeserver would retry forever. Outside
// strings such bytes make the JSON invalid anyway; inside, U+FFFD is what
// a JSON decoder would make of them.
func ValidUTF8(raw []byte) []byte {
	if utf8.Valid(raw) {
		return raw
	}
	return bytes.ToValidUTF8(raw, []byte("\uFFFD"))
}

func (ev Envelope) isState() bool { return ev.StateKey != nil }

// SentAt is the event's origin_server_ts, zero when it has none that Go
// can store.
func SentAt(ev Envelope) time.Time {
	if ev.Timestamp <= 0 || ev.Timestamp > maxTimestampMS {
		return time.Time{}
	}
	return time.UnixMilli(ev.Timestamp)
}

func (ev Envelope) stateKey() string {
	if ev.StateKey == nil {
		return ""
	}
	return *ev.StateKey
}

// decodeContent decodes the content strictly into dst; a JSON null or a
// missing content counts as empty.
func decodeContent(raw json.RawMessage, dst any) error {
	trimmed := strings.TrimSpace(string(raw))
	if trimmed == "" || trimmed == "null" {
		return nil
	}
	if !strings.HasPrefix(trimmed, "{") {
		return errNotObject
	}
	return json.Unmarshal(raw, dst)
}

func isEmptyContent(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	if err := decodeContent(raw, &m); err != nil {
		return false
	}
	return len(m) == 0
}

// ParseInput turns an event into the floor engine's input. ok is false for
// events the engine does not care about.
func ParseInput(ev Envelope) (in floor.Input, ok bool) {
	switch ev.Type {
	case floor.TypeRequest:
		if ev.isState() {
			return nil, false
		}
		return parseRequest(ev), true
	case floor.TypePermit:
		if !ev.isState() {
			return nil, false
		}
		return parsePermit(ev), true
	case floor.TypeBroadcastInfo, floor.TypeBroadcastInfoMSC3888, floor.TypeBroadcastInfoElement:
		if !ev.isState() {
			return nil, false
		}
		return parseBroadcastInfo(ev), true
	case TypeChunk.Type, TypeChunkMSC3888.Type:
		return parseChunk(ev)
	case event.EventMessage.Type:
		if !hasKey(ev.Content, elementChunkKey) {
			return nil, false
		}
		return parseChunk(ev)
	case event.EventEncrypted.Type:
		// Encrypted chunks keep m.relates_to in plaintext. Whether the
		// reference is a broadcast is decided by the engine's knowledge of
		// broadcasts (see the decision package's translate).
		return parseChunk(ev)
	case floor.TypeFloor:
		if !ev.isState() || ev.stateKey() != "" {
			return nil, false
		}
		return floor.FloorStateSeen{EventID: ev.EventID, Sender: ev.Sender, Timestamp: SentAt(ev)}, true
	case floor.TypeFloorConfig:
		if !ev.isState() || ev.stateKey() != "" {
			return nil, false
		}
		values := map[string]any{}
		if err := decodeContent(ev.Content, &values); err != nil {
			values = map[string]any{}
		}
		return floor.ConfigChange{EventID: ev.EventID, Sender: ev.Sender, Values: values}, true
	case event.StateMember.Type:
		if !ev.isState() {
			return nil, false
		}
		var c struct {
			Membership string `json:"membership"`
		}
		if err := decodeContent(ev.Content, &c); err != nil || c.Membership == "" {
			c.Membership = "leave" // an unreadable membership grants nothing
		}
		return floor.MemberChange{EventID: ev.EventID, UserID: ev.stateKey(), Membership: c.Membership}, true
	case event.StatePowerLevels.Type:
		if !ev.isState() || ev.stateKey() != "" {
			return nil, false
		}
		return floor.PowerChange{EventID: ev.EventID, Levels: ParsePowerLevels(ev.Content)}, true
	case event.EventRedaction.Type:
		if ev.isState() {
			return nil, false
		}
		return parseRedaction(ev), true
	case event.StateCreate.Type:
		if !ev.isState() || ev.stateKey() != "" {
			return nil, false
		}
		return parseCreate(ev), true
	}
	return nil, false
}

// parseCreate reads m.room.create: the room version (absent means "1")
// and additional_creators; entries that are not user IDs are skipped.
func parseCreate(ev Envelope) floor.RoomCreate {
	rc := floor.RoomCreate{EventID: ev.EventID, Sender: ev.Sender, RoomVersion: "1"}
	var c map[string]json.RawMessage
	if decodeContent(ev.Content, &c) != nil {
		return rc
	}
	var version string
	if json.Unmarshal(c["room_version"], &version) == nil && version != "" {
		rc.RoomVersion = version
	}
	var creators []json.RawMessage
	_ = json.Unmarshal(c["additional_creators"], &creators)
	for _, raw := range creators {
		var user string
		if json.Unmarshal(raw, &user) == nil && strings.HasPrefix(user, "@") && len(user) <= maxIDLength {
			rc.AdditionalCreators = append(rc.AdditionalCreators, user)
		}
	}
	return rc
}

// parseRequest reads a talk_request field by field, so that a bad
// request still names its device and is answered with what was wrong.
func parseRequest(ev Envelope) floor.TalkRequest {
	req := floor.TalkRequest{EventID: ev.EventID, Sender: ev.Sender}
	c, err := contentFields(ev.Content)
	if err != nil {
		req.Invalid = "content: " + err.Error()
		return req
	}
	var actionProblem, deviceProblem, preemptProblem, termProblem, priorityProblem, targetProblem string
	req.Action, actionProblem = c.str("action")
	req.DeviceID, deviceProblem = c.id("device_id")
	req.Preempt, preemptProblem = c.boolean("preempt")
	req.Term, termProblem = c.count("term")
	_, priorityProblem = c.count("priority") // accepted and ignored (PROTOCOL.md)
	req.Target, targetProblem = parseTarget(c)
	req.Invalid = firstProblem(actionProblem, deviceProblem, preemptProblem, termProblem, priorityProblem, targetProblem)
	switch {
	case req.Invalid != "":
	case req.Action == "":
		req.Invalid = "missing action"
	case req.DeviceID == "":
		req.Invalid = "missing device_id"
	}
	return req
}

// parseTarget reads a revoke's target; nil when absent.
func parseTarget(c fields) (*floor.Device, string) {
	if !c.present("target") {
		return nil, ""
	}
	t, problem := c.object("target")
	if problem != "" {
		return nil, problem
	}
	user, userProblem := t.id("user_id")
	device, deviceProblem := t.id("device_id")
	if problem := firstProblem(userProblem, deviceProblem); problem != "" {
		return nil, "target: " + problem
	}
	return &floor.Device{UserID: user, DeviceID: device}, ""
}

func parsePermit(ev Envelope) floor.PermitChange {
	pc := floor.PermitChange{EventID: ev.EventID, Sender: ev.Sender, StateKey: ev.stateKey()}
	if isEmptyContent(ev.Content) {
		pc.Empty = true
		return pc
	}
	var c PermitContent
	if err := decodeContent(ev.Content, &c); err != nil {
		pc.Invalid = "content: " + err.Error()
		return pc
	}
	pc.DeviceID = c.DeviceID
	if len(c.DeviceID) > maxIDLength {
		pc.DeviceID, pc.Invalid = "", fmt.Sprintf("device_id longer than %d bytes", maxIDLength)
		return pc
	}
	pc.Send = c.Send != nil && *c.Send
	pc.Receive = c.Receive != nil && *c.Receive
	if c.ExpiresTS != nil {
		if *c.ExpiresTS <= 0 || *c.ExpiresTS > maxTimestampMS {
			pc.Invalid = "expires_ts must be a timestamp in milliseconds, after 1970 and before year 10000"
			return pc
		}
		pc.ExpiresAt = time.UnixMilli(*c.ExpiresTS)
	}
	if c.DeviceID == "" {
		pc.Invalid = "missing device_id"
	}
	return pc
}

// maxChunkSeconds bounds a declared chunk_length before it becomes a
// duration (the engine counts at most a minute of it).
const maxChunkSeconds = 3600

// parseBroadcastInfo reads voice_broadcast_info field by field: a mistyped
// field makes a `started` invalid, which the engine refuses (bad_request),
// but it does not hide that the event is a start. An update is invalid
// only when a field it uses is wrong.
func parseBroadcastInfo(ev Envelope) floor.BroadcastInfo {
	bi := floor.BroadcastInfo{EventID: ev.EventID, Sender: ev.Sender}
	c, err := contentFields(ev.Content)
	if err != nil {
		bi.Invalid = "content: " + err.Error()
		return bi
	}
	var stateProblem, deviceProblem, lengthProblem, termProblem, referenceProblem string
	bi.State, stateProblem = c.str("state")
	bi.DeviceID, deviceProblem = c.id("device_id")
	seconds, lengthProblem := c.seconds("chunk_length", maxChunkSeconds)
	bi.ChunkLength = time.Duration(seconds * float64(time.Second))
	bi.Term, termProblem = c.count(floor.TermKey)
	bi.StartedEventID, referenceProblem = c.reference()
	var stateKeyProblem string
	if ev.stateKey() != ev.Sender {
		stateKeyProblem = "state_key must be the broadcaster's user ID"
	}
	switch {
	case stateProblem != "":
		bi.Invalid = stateProblem
	case bi.State == "":
		bi.Invalid = "missing state"
	case bi.State == floor.BroadcastStarted:
		bi.Invalid = firstProblem(stateKeyProblem, deviceProblem, lengthProblem, termProblem)
	default:
		bi.Invalid = firstProblem(stateKeyProblem, deviceProblem, referenceProblem)
	}
	return bi
}

func parseChunk(ev Envelope) (floor.Input, bool) {
	var c ChunkContent
	if err := decodeContent(ev.Content, &c); err != nil || c.RelatesTo == nil ||
		c.RelatesTo.Type != event.RelReference || c.RelatesTo.EventID == "" {
		return nil, false
	}
	return floor.Chunk{EventID: ev.EventID, Sender: ev.Sender, BroadcastEventID: c.RelatesTo.EventID.String()}, true
}

// ParsePowerLevels reads m.room.power_levels with the spec's defaults for
// absent keys (state_default and redact 50, the rest 0). Each value is
// read on its own: rooms before version 10 may hold levels as strings
// ("50"), which count as the integer they spell; a value that is no level
// at all is left out, so the default applies to it alone rather than the
// room losing its whole power levels.
func ParsePowerLevels(raw json.RawMessage) floor.PowerLevels {
	var c map[string]json.RawMessage
	if decodeContent(raw, &c) != nil {
		c = nil
	}
	return floor.PowerLevels{
		Users:         levelMap(c["users"]),
		UsersDefault:  levelOr(c["users_default"], 0),
		Events:        levelMap(c["events"]),
		EventsDefault: levelOr(c["events_default"], 0),
		StateDefault:  levelOr(c["state_default"], 50),
		Redact:        levelOr(c["redact"], 50),
	}
}

func levelMap(raw json.RawMessage) map[string]int {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	out := make(map[string]int, len(m))
	for key, v := range m {
		if level, ok := parseLevel(v); ok {
			out[key] = level
		}
	}
	return out
}

func levelOr(raw json.RawMessage, absent int) int {
	if level, ok := parseLevel(raw); ok {
		return level
	}
	return absent
}

// maxLevel bounds a level as canonical JSON does (2^53-1): anything
// beyond it is not a level a homeserver accepts.
const maxLevel = 1<<53 - 1

// parseLevel reads one power level: an integer, or in old rooms a string
// holding one ("50", " 50"). Old rooms may also carry a float, which
// counts as its integer part, as Synapse reads it.
func parseLevel(raw json.RawMessage) (int, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		return int(n), err == nil && n >= -maxLevel && n <= maxLevel
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil || math.IsNaN(f) || f < -maxLevel || f > maxLevel {
		return 0, false
	}
	return int(f), true
}

func hasKey(raw json.RawMessage, key string) bool {
	var m map[string]json.RawMessage
	if decodeContent(raw, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}
