package livekit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"github.com/rs/zerolog"
)

// EventKind is a webhook event the floor acts on.
type EventKind string

// The events the floor acts on. A connection that broke off
// (participant_connection_aborted) counts as a participant leaving.
const (
	ParticipantJoined EventKind = "participant_joined"
	ParticipantLeft   EventKind = "participant_left"
	TrackPublished    EventKind = "track_published"
	TrackUnpublished  EventKind = "track_unpublished"
)

// Event is a verified webhook event, in plain values for the decision path.
type Event struct {
	// ID is the server's event ID: a retried delivery repeats it.
	ID   string
	Kind EventKind
	// Room is the LiveKit room name (RoomName of the Matrix room).
	Room string
	// Participant is whom it is about; for a track event, its publisher,
	// of which LiveKit sends the identity alone (no attributes: the room's
	// participant listing has them).
	Participant Participant
	// TrackSID and Microphone describe the track of a track event.
	TrackSID   string
	Microphone bool
	// At is when the server created the event (whole seconds).
	At time.Time
}

// ErrUnverified: a webhook request whose signature does not hold (no
// Authorization header, a JWT not signed with the webhook key's secret, or
// a body whose SHA-256 is not the one the JWT signs).
var ErrUnverified = errors.New("livekit: webhook signature not verified")

// maxWebhookBytes bounds a webhook body; LiveKit's are a few KiB.
const maxWebhookBytes = 1 << 20

// Webhooks verifies LiveKit's webhooks: each carries a JWT signed with the
// secret of the server's webhook.api_key whose sha256 claim is the body's
// hash.
type Webhooks struct {
	keys auth.KeyProvider
}

// NewWebhooks verifies webhooks signed by key with secret.
func NewWebhooks(key, secret string) *Webhooks {
	return &Webhooks{keys: auth.NewSimpleKeyProvider(key, secret)}
}

// Receive reads and verifies a webhook request. ok is false for a verified
// event the floor ignores (room started, egress, ...).
func (w *Webhooks) Receive(r *http.Request) (ev Event, ok bool, err error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxWebhookBytes)
	msg, err := webhook.ReceiveWebhookEvent(r, w.keys)
	if err != nil {
		return Event{}, false, fmt.Errorf("%w: %w", ErrUnverified, err)
	}
	return eventOf(msg)
}

func eventOf(msg *livekit.WebhookEvent) (Event, bool, error) {
	var kind EventKind
	switch msg.Event {
	case webhook.EventParticipantJoined:
		kind = ParticipantJoined
	case webhook.EventParticipantLeft, webhook.EventParticipantConnectionAborted:
		kind = ParticipantLeft
	case webhook.EventTrackPublished:
		kind = TrackPublished
	case webhook.EventTrackUnpublished:
		kind = TrackUnpublished
	default:
		return Event{}, false, nil
	}
	if msg.Room == nil || msg.Participant == nil || (msg.Track == nil && (kind == TrackPublished || kind == TrackUnpublished)) {
		return Event{}, false, fmt.Errorf("livekit: a %s webhook without its room, participant or track", msg.Event)
	}
	ev := Event{
		ID:          msg.Id,
		Kind:        kind,
		Room:        msg.Room.Name,
		Participant: participantOf(msg.Participant),
		At:          time.Unix(msg.CreatedAt, 0),
	}
	if msg.Track != nil {
		ev.TrackSID = msg.Track.Sid
		ev.Microphone = msg.Track.Source == livekit.TrackSource_MICROPHONE
	}
	return ev, true, nil
}

// WebhookHandler serves LiveKit's webhook POSTs: a verified event the
// floor acts on goes to sink; an unverified request is answered 401 and
// never reaches it. A sink error answers 500, which LiveKit retries (a few
// times, then drops the event: reconciliation covers a lost one).
func WebhookHandler(w *Webhooks, sink func(context.Context, Event) error, log zerolog.Logger) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			rw.Header().Set("Allow", http.MethodPost)
			http.Error(rw, "POST only", http.StatusMethodNotAllowed)
			return
		}
		ev, ok, err := w.Receive(r)
		switch {
		case errors.Is(err, ErrUnverified):
			log.Warn().Err(err).Str("remote", r.RemoteAddr).Msg("LiveKit webhook refused")
			http.Error(rw, "unverified", http.StatusUnauthorized)
			return
		case err != nil:
			log.Warn().Err(err).Msg("LiveKit webhook not understood")
			http.Error(rw, "bad event", http.StatusBadRequest)
			return
		case !ok:
			rw.WriteHeader(http.StatusOK)
			return
		}
		if err := sink(r.Context(), ev); err != nil {
			log.Error().Err(err).Str("event", string(ev.Kind)).Str("event_id", ev.ID).Msg("LiveKit webhook not handled")
			http.Error(rw, "not handled", http.StatusInternalServerError)
			return
		}
		rw.WriteHeader(http.StatusOK)
	})
}
