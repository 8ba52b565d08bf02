package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// KeyError is a problem with one key of the configuration.
type KeyError struct {
	// Key is the dotted path of the key, e.g. appservice.as_token.
	Key string
	// Line is where the key is in the file; 0 when unknown, e.g. for a
	// required key that is absent.
	Line int
	Msg  string
}

func (e *KeyError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Key, e.Line, e.Msg)
	}
	return e.Key + ": " + e.Msg
}

// KeyErrors returns every KeyError in err's tree (errors.Join and %w
// wrapping included), in order.
func KeyErrors(err error) []*KeyError {
	switch e := err.(type) {
	case nil:
		return nil
	case *KeyError:
		return []*KeyError{e}
	case interface{ Unwrap() []error }:
		var out []*KeyError
		for _, inner := range e.Unwrap() {
			out = append(out, KeyErrors(inner)...)
		}
		return out
	}
	return KeyErrors(errors.Unwrap(err))
}

var plainSegment = regexp.MustCompile(`^[a-z0-9_]+$`)

// keyPath appends one key to a dotted path, quoting keys that are not plain
// identifiers (user IDs and server names under permissions contain dots).
func keyPath(parent, key string) string {
	if !plainSegment.MatchString(key) {
		key = strconv.Quote(key)
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}
