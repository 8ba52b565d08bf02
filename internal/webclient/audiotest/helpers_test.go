package audiotest

import "encoding/json"

// jsArg writes a Go value as a JavaScript literal.
func jsArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
