package matrixhttp

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestWriteError: status, Content-Type and body to the byte, as both
// writers it replaced answered (encoding/json's encoder: keys in this
// order, HTML characters escaped, a trailing newline).
func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		status       int
		errcode, msg string
		wantBody     string
	}{
		{http.StatusForbidden, "M_FORBIDDEN", "invalid hs_token", `{"errcode":"M_FORBIDDEN","error":"invalid hs_token"}` + "\n"},
		{http.StatusBadGateway, "M_UNKNOWN", `<a & "b">`, `{"errcode":"M_UNKNOWN","error":"\u003ca \u0026 \"b\"\u003e"}` + "\n"},
		{http.StatusBadRequest, "M_NOT_JSON", "", `{"errcode":"M_NOT_JSON","error":""}` + "\n"},
	} {
		rec := httptest.NewRecorder()
		WriteError(rec, c.status, c.errcode, c.msg)
		if rec.Code != c.status || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != c.wantBody {
			t.Errorf("WriteError(%d, %q, %q) = %d %q %q, want %d application/json %q", c.status, c.errcode, c.msg,
				rec.Code, rec.Header().Get("Content-Type"), rec.Body, c.status, c.wantBody)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusOK, map[string]any{"b": 1, "a": []string{"x"}})
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != `{"a":["x"],"b":1}`+"\n" {
		t.Errorf("WriteJSON = %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}
