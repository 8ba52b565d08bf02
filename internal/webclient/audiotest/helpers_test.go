package audiotest

import (
	"encoding/json"
	"slices"
)

// jsArg writes a Go value as a JavaScript literal.
func jsArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func containsInt(s []int, v int) bool { return slices.Contains(s, v) }

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
