// Package rtcauth is Walkie's MatrixRTC authorization service: the LiveKit
// token endpoint that MatrixRTC clients (Element Call, Walkie's web client)
// call on the focus a room names, in the two request shapes of
// element-hq/lk-jwt-service, answering {url, jwt}:
//
//	POST <prefix>/sfu/get    {room, openid_token, device_id}
//	POST <prefix>/get_token  {room_id, slot_id, openid_token,
//	                          member: {id, claimed_user_id, claimed_device_id}}
//
// It verifies the OpenID token with the user's homeserver (internal/openid),
// asks Access whether the user is joined to the Matrix room and the room is
// in live mode, and mints a token for the LiveKit room and identity that
// MatrixRTC clients derive (internal/livekit) that lets its holder listen
// and not talk: the floor grants publishing later, on the media server.
//
// Errors are Matrix errors ({errcode, error}), as clients of lk-jwt-service
// expect: 400 M_BAD_JSON / M_NOT_JSON / M_INVALID_PARAM for a request that
// is not one, 401 M_UNAUTHORIZED for an OpenID token that does not prove
// the user, 403 M_FORBIDDEN for a user that may not listen there, 502
// M_UNKNOWN when the homeserver or LiveKit cannot be asked. Every answer
// allows any origin (CORS): the OpenID token in the body is the credential,
// no cookie is involved, and web clients live on other origins.
//
// Fields of requests that Walkie does not act on (the delayed-leave-event
// delegation: delay_id, delay_timeout, delay_cs_api_url) are accepted and
// ignored, as lk-jwt-service ignores them for users it gives no full
// access: clients then keep their delayed leave events themselves.
package rtcauth
