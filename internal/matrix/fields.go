package matrix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// fields is an event content read one key at a time: a mistyped key is
// named in the problem it causes, and the keys around it are still read
// (a request with a bad priority still names its device, a `started`
// with a string chunk_length is still a start).
type fields map[string]json.RawMessage

// contentFields splits a content object; a missing or null content is
// empty.
func contentFields(raw json.RawMessage) (fields, error) {
	f := fields{}
	if err := decodeContent(raw, &f); err != nil {
		return nil, err
	}
	return f, nil
}

// present reports whether key is set to anything but null.
func (f fields) present(key string) bool {
	v, ok := f[key]
	return ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// str reads a string; absent or null is "".
func (f fields) str(key string) (string, string) {
	if !f.present(key) {
		return "", ""
	}
	var s string
	if json.Unmarshal(f[key], &s) != nil {
		return "", key + " must be a string"
	}
	return s, ""
}

// id reads a string that is an identifier: at most maxIDLength bytes, so
// that no oversized one is stored, echoed or put into a state key.
func (f fields) id(key string) (string, string) {
	s, problem := f.str(key)
	if problem == "" && len(s) > maxIDLength {
		return "", fmt.Sprintf("%s longer than %d bytes", key, maxIDLength)
	}
	return s, problem
}

// boolean reads true or false; absent or null is false.
func (f fields) boolean(key string) (bool, string) {
	if !f.present(key) {
		return false, ""
	}
	var b bool
	if json.Unmarshal(f[key], &b) != nil {
		return false, key + " must be true or false"
	}
	return b, ""
}

// count reads a non-negative integer (a term, a priority); absent or null
// is 0. 1.5, "3" and -1 are not counts.
func (f fields) count(key string) (int64, string) {
	if !f.present(key) {
		return 0, ""
	}
	var n int64
	if json.Unmarshal(f[key], &n) != nil || n < 0 {
		return 0, key + " must be a non-negative integer"
	}
	return n, ""
}

// seconds reads a number of seconds; absent, null, zero or negative is 0,
// and more than maxSeconds counts as maxSeconds (a duration must not
// overflow).
func (f fields) seconds(key string, maxSeconds float64) (float64, string) {
	if !f.present(key) {
		return 0, ""
	}
	var v float64
	if json.Unmarshal(f[key], &v) != nil || math.IsNaN(v) {
		return 0, key + " must be a number (seconds)"
	}
	return max(0, min(v, maxSeconds)), ""
}

// reference reads the event ID of an m.reference in m.relates_to; absent
// or null is "".
func (f fields) reference() (string, string) {
	if !f.present("m.relates_to") {
		return "", ""
	}
	var rel struct {
		EventID *string `json:"event_id"`
	}
	if json.Unmarshal(f["m.relates_to"], &rel) != nil {
		return "", "m.relates_to must be an object with an event_id string"
	}
	if rel.EventID == nil {
		return "", ""
	}
	return *rel.EventID, ""
}

// object reads a nested object's fields; absent or null is empty.
func (f fields) object(key string) (fields, string) {
	if !f.present(key) {
		return fields{}, ""
	}
	sub := fields{}
	if json.Unmarshal(f[key], &sub) != nil {
		return fields{}, key + " must be an object"
	}
	return sub, ""
}

// firstProblem is the first non-empty problem, in the order the caller
// lists the keys.
func firstProblem(problems ...string) string {
	for _, p := range problems {
		if p != "" {
			return p
		}
	}
	return ""
}
