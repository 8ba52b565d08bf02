package livekit

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Claims is a LiveKit join token's payload as clients and the server read
// it: the JSON as it is, so a test sees what is set explicitly and what
// is left out (video.canPublish false is not the same as no canPublish).
type Claims struct {
	Sub        string            `json:"sub"`
	Attributes map[string]string `json:"attributes"`
	Video      map[string]any    `json:"video"`
}

// ReadClaims decodes a JWT's payload without checking its signature (the
// server does that).
func ReadClaims(jwt string) (Claims, error) {
	var c Claims
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return c, fmt.Errorf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, fmt.Errorf("the JWT's payload: %w", err)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("the JWT's payload: %w", err)
	}
	return c, nil
}
