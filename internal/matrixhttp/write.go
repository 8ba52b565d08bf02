// Package matrixhttp writes the answers of Walkie's HTTP endpoints as
// Matrix servers write theirs: JSON bodies, and errors in the Matrix error
// format ({"errcode": "M_…", "error": "…"}). The appservice and admin APIs
// and the LiveKit token service answer through it, so their errors cannot
// drift apart.
//
// The package is a leaf: no other Walkie package.
package matrixhttp

import (
	"encoding/json"
	"net/http"
)

// WriteJSON answers status with v as a JSON body (and a trailing newline).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers status with a Matrix error.
func WriteError(w http.ResponseWriter, status int, errcode, msg string) {
	WriteJSON(w, status, matrixError{ErrCode: errcode, Message: msg})
}

// matrixError is the Matrix error format; the fields' order is the body's.
type matrixError struct {
	ErrCode string `json:"errcode"`
	Message string `json:"error"`
}
