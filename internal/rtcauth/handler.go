package rtcauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/livekit"
	"github.com/walkie-ptt/walkie/internal/matrixhttp"
	"github.com/walkie-ptt/walkie/internal/openid"
)

// Verifier proves whose an OpenID token is (*openid.Verifier).
type Verifier interface {
	Verify(ctx context.Context, tok openid.Token) (userID string, err error)
}

// Access says whether a user may listen to a Matrix room's call: nil, or
// ErrNotJoined, ErrNotLive, or another error when it cannot tell. Walkie's
// store answers it (joined members, the room's mode).
type Access interface {
	CheckLive(ctx context.Context, roomID, userID string) error
}

// The refusals of Access.
var (
	// ErrNotJoined: the user is not joined to the room, or Walkie does not
	// know the room.
	ErrNotJoined = errors.New("rtcauth: the user is not joined to the room")
	// ErrNotLive: the room does not carry its audio over LiveKit.
	ErrNotLive = errors.New("rtcauth: the room is not in live mode")
)

// RoomEnsurer creates a LiveKit room unless it exists (*livekit.Rooms).
type RoomEnsurer interface {
	Ensure(ctx context.Context, room string) error
}

// Options configure a Handler.
type Options struct {
	// URL is the LiveKit URL clients connect to (config livekit.url).
	URL      string
	Verifier Verifier
	Access   Access
	Minter   *livekit.Minter
	// Rooms, when set, creates the LiveKit room before the token is
	// handed out, for servers that do not create rooms on join.
	Rooms RoomEnsurer
	Log   zerolog.Logger
}

// Handler serves the two token endpoints.
type Handler struct {
	opts Options
}

// requestTimeout bounds one token request (the OpenID check, the room
// check, creating the room).
const requestTimeout = 15 * time.Second

// maxBodyBytes bounds a request body; real ones are well under 2 KiB.
const maxBodyBytes = 64 << 10

// New makes a Handler.
func New(opts Options) *Handler { return &Handler{opts: opts} }

// Mount serves the endpoints at prefix+"/sfu/get" and prefix+"/get_token"
// (prefix without a trailing slash; the focus URL clients are given is
// the public URL of prefix).
func (h *Handler) Mount(mux *http.ServeMux, prefix string) {
	mux.Handle(prefix+"/sfu/get", h.endpoint("sfu/get", func(body []byte) (tokenRequest, *matrixError) {
		var r legacyRequest
		if e := decode(body, &r); e != nil {
			return tokenRequest{}, e
		}
		return r.check()
	}))
	mux.Handle(prefix+"/get_token", h.endpoint("get_token", func(body []byte) (tokenRequest, *matrixError) {
		var r memberRequest
		if e := decode(body, &r); e != nil {
			return tokenRequest{}, e
		}
		return r.check()
	}))
}

// decode reads a JSON object, ignoring fields Walkie does not know.
func decode(body []byte, v any) *matrixError {
	if err := json.Unmarshal(body, v); err != nil {
		return &matrixError{status: http.StatusBadRequest, ErrCode: "M_NOT_JSON", Message: "the body is not the JSON object this endpoint takes"}
	}
	return nil
}

type parseFunc func(body []byte) (tokenRequest, *matrixError)

func (h *Handler) endpoint(name string, parse parseFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allowCORS(w)
		switch r.Method {
		case http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
			return
		case http.MethodPost:
		default:
			w.Header().Set("Allow", "POST, OPTIONS")
			(&matrixError{status: http.StatusMethodNotAllowed, ErrCode: "M_UNRECOGNIZED", Message: "POST only"}).write(w)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			(&matrixError{status: http.StatusRequestEntityTooLarge, ErrCode: "M_TOO_LARGE", Message: "the body is too large"}).write(w)
			return
		}
		req, e := parse(body)
		if e == nil {
			ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
			defer cancel()
			var resp response
			resp, e = h.token(ctx, name, req)
			if e == nil {
				matrixhttp.WriteJSON(w, http.StatusOK, resp)
				return
			}
		}
		h.opts.Log.Info().Str("endpoint", name).Int("status", e.status).Str("errcode", e.ErrCode).
			Str("reason", e.Message).Msg("LiveKit token refused")
		e.write(w)
	})
}

// allowCORS lets pages of any origin call the endpoints (see the package
// doc), as lk-jwt-service does.
func allowCORS(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Accept")
	h.Set("Access-Control-Max-Age", "86400")
}

// response is what both endpoints answer.
type response struct {
	URL string `json:"url"`
	JWT string `json:"jwt"`
}

func (h *Handler) token(ctx context.Context, endpoint string, req tokenRequest) (response, *matrixError) {
	user, err := h.opts.Verifier.Verify(ctx, req.token)
	if e := verifyError(err); e != nil {
		return response{}, e
	}
	if req.claimedUser != "" && req.claimedUser != user {
		return response{}, unauthorized("the OpenID token is not member.claimed_user_id's")
	}
	switch err := h.opts.Access.CheckLive(ctx, req.roomID, user); {
	case errors.Is(err, ErrNotJoined):
		return response{}, forbidden("you are not joined to the room")
	case errors.Is(err, ErrNotLive):
		return response{}, forbidden("the room is not in live mode")
	case err != nil:
		h.opts.Log.Error().Err(err).Str("room_id", req.roomID).Msg("cannot check a LiveKit token request")
		return response{}, internal("cannot check the room now")
	}
	who := livekit.Member{UserID: user, DeviceID: req.deviceID, Identity: req.identity(user)}
	if len(who.Identity) > maxIdentityLength {
		return response{}, invalidParam("the user and device IDs are too long for a LiveKit identity")
	}
	room := livekit.RoomName(req.roomID)
	if h.opts.Rooms != nil {
		if err := h.opts.Rooms.Ensure(ctx, room); err != nil {
			h.opts.Log.Error().Err(err).Str("room_id", req.roomID).Msg("cannot create the LiveKit room")
			return response{}, unavailable("the media server cannot be reached")
		}
	}
	jwt, err := h.opts.Minter.Mint(room, who)
	if err != nil {
		h.opts.Log.Error().Err(err).Msg("cannot mint a LiveKit token")
		return response{}, internal("cannot mint a token")
	}
	h.opts.Log.Info().Str("endpoint", endpoint).Str("room_id", req.roomID).Str("user_id", user).
		Str("device_id", req.deviceID).Str("livekit_room", room).Str("livekit_identity", who.Identity).
		Msg("LiveKit token minted")
	return response{URL: h.opts.URL, JWT: jwt}, nil
}

// maxIdentityLength is LiveKit's default limit on identities
// (limit.max_participant_identity_length).
const maxIdentityLength = 256

// verifyError maps the verifier's answer to the client's; the token is in
// none of them.
func verifyError(err error) *matrixError {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, openid.ErrUnknownServer):
		return forbidden("this service does not serve users of the token's server")
	case errors.Is(err, openid.ErrUnavailable):
		return unavailable("your homeserver cannot verify the OpenID token now")
	case errors.Is(err, openid.ErrExpired):
		return unauthorized("the OpenID token has expired")
	}
	// Malformed, rejected, or vouched for by another server.
	return unauthorized("the OpenID token does not prove who you are")
}
