// Package openid verifies Matrix OpenID tokens: the short-lived tokens a
// client gets from its homeserver (POST /_matrix/client/v3/user/{userId}/
// openid/request_token) to prove its identity to a third party, which asks
// the homeserver who the token belongs to (GET /_matrix/federation/v1/
// openid/userinfo). A client never hands Walkie its access token.
//
// The package is a leaf: no other Walkie package, no logging of tokens.
package openid

import (
	"errors"
	"strings"
)

// Token is the object request_token returns, as the client passes it on.
type Token struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	MatrixServerName string `json:"matrix_server_name"`
	// ExpiresIn is a lifetime in seconds by the spec; Dendrite 0.13 puts
	// an absolute Unix time in seconds there instead (see expiry).
	ExpiresIn int64 `json:"expires_in"`
}

// Errors of Verify. Wrapped errors carry detail; compare with errors.Is.
var (
	// ErrMalformed: the token object is incomplete or names no valid
	// server. The homeserver was not asked.
	ErrMalformed = errors.New("malformed OpenID token")
	// ErrExpired: the token says it has expired. The homeserver was not asked.
	ErrExpired = errors.New("the OpenID token has expired")
	// ErrRejected: the homeserver does not know the token (unknown,
	// expired, or issued by another server).
	ErrRejected = errors.New("the homeserver rejected the OpenID token")
	// ErrWrongServer: the homeserver vouched for a user of another server
	// than the token claims to come from.
	ErrWrongServer = errors.New("the OpenID token names a user of another server")
	// ErrUnknownServer: this deployment has no way to reach the token's
	// server (not configured, and discovery is off or found nothing usable).
	ErrUnknownServer = errors.New("the OpenID token's server cannot be reached from here")
	// ErrUnavailable: the homeserver could not be asked or answered
	// nonsense; trying again later may work.
	ErrUnavailable = errors.New("the homeserver could not verify the OpenID token")
)

// maxTokenBytes bounds the access token passed on to a homeserver.
const maxTokenBytes = 1024

// check validates the token object before anything is sent anywhere.
func (t Token) check() error {
	switch {
	case t.AccessToken == "" || len(t.AccessToken) > maxTokenBytes:
		return errors.Join(ErrMalformed, errors.New("access_token missing or too long"))
	case strings.ContainsFunc(t.AccessToken, func(r rune) bool { return r <= ' ' || r > '~' }):
		return errors.Join(ErrMalformed, errors.New("access_token holds characters a token never has"))
	case t.TokenType != "Bearer":
		return errors.Join(ErrMalformed, errors.New(`token_type must be "Bearer"`))
	case !ValidServerName(t.MatrixServerName):
		return errors.Join(ErrMalformed, errors.New("matrix_server_name is not a server name"))
	}
	return nil
}

// userServer returns the server name of a user ID (@localpart:server).
func userServer(userID string) (string, bool) {
	if !strings.HasPrefix(userID, "@") || len(userID) > 255 {
		return "", false
	}
	_, server, ok := strings.Cut(userID, ":")
	return server, ok && ValidServerName(server)
}
