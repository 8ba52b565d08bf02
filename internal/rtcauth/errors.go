package rtcauth

import (
	"net/http"

	"github.com/walkie-ptt/walkie/internal/matrixhttp"
)

// matrixError is an answer in the Matrix error format, kept as a value
// until it is logged and written.
type matrixError struct {
	status  int
	ErrCode string
	Message string
}

func (e *matrixError) write(w http.ResponseWriter) {
	matrixhttp.WriteError(w, e.status, e.ErrCode, e.Message)
}

func badJSON(msg string) *matrixError {
	return &matrixError{status: http.StatusBadRequest, ErrCode: "M_BAD_JSON", Message: msg}
}

func invalidParam(msg string) *matrixError {
	return &matrixError{status: http.StatusBadRequest, ErrCode: "M_INVALID_PARAM", Message: msg}
}

func unauthorized(msg string) *matrixError {
	return &matrixError{status: http.StatusUnauthorized, ErrCode: "M_UNAUTHORIZED", Message: msg}
}

func forbidden(msg string) *matrixError {
	return &matrixError{status: http.StatusForbidden, ErrCode: "M_FORBIDDEN", Message: msg}
}

// unavailable: a server Walkie depends on (the homeserver, LiveKit) could
// not be asked; trying again later may work.
func unavailable(msg string) *matrixError {
	return &matrixError{status: http.StatusBadGateway, ErrCode: "M_UNKNOWN", Message: msg}
}

func internal(msg string) *matrixError {
	return &matrixError{status: http.StatusInternalServerError, ErrCode: "M_UNKNOWN", Message: msg}
}
