package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/livekit"
	"github.com/walkie-ptt/walkie/internal/metrics"
	"github.com/walkie-ptt/walkie/internal/rtcauth"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Live mode (docs/protocol.md "Live mode") on the web listener: the
// MatrixRTC token service clients ask for LiveKit tokens, and the webhooks
// LiveKit reports its participants with.
const (
	livePath    = "/_walkie/v1/livekit"
	webhookPath = livePath + "/webhook"
)

// liveMode is live mode's wiring around the engine: the store answers the
// token service (who may listen where), the outbox's media_permission rows
// become LiveKit permission changes (SetPublish), LiveKit's webhooks become
// decisions (webhook), and the reconciler (reconcile.go) sets the SFU
// right where it drifted from the floor.
type liveMode struct {
	cfg      config.LiveKitConfig
	rooms    *livekit.Rooms
	minter   *livekit.Minter
	webhooks *livekit.Webhooks
	store    *store.Store
	decider  *decide.Decider
	metrics  *metrics.Live
	log      zerolog.Logger
}

// newLiveMode reads the LiveKit secrets and makes the clients.
func newLiveMode(cfg config.LiveKitConfig, st *store.Store, d *decide.Decider, m *metrics.Live, log zerolog.Logger) (*liveMode, error) {
	secrets, err := cfg.Secrets()
	if err != nil {
		return nil, err
	}
	return &liveMode{
		cfg:      cfg,
		rooms:    livekit.NewRooms(cfg.ServerAPIURL(), cfg.APIKey, secrets.API),
		minter:   livekit.NewMinter(cfg.APIKey, secrets.API, cfg.TokenTTL),
		webhooks: livekit.NewWebhooks(cfg.WebhookAPIKey(), secrets.Webhook),
		store:    st,
		decider:  d,
		metrics:  m,
		log:      log,
	}, nil
}

// servesLive says whether this process serves live mode: an SFU is
// configured and the web listener, which serves the token service and
// LiveKit's webhooks, is on (config refuses one without the other).
func servesLive(cfg *config.Config) bool { return cfg.LiveKit.Enabled() && cfg.Web.Enabled() }

// liveServiceURL is the token service's public URL: what live rooms' floor
// state names, and clients name as their focus; "" when live mode is not
// served.
func liveServiceURL(cfg *config.Config) string {
	if !servesLive(cfg) {
		return ""
	}
	return cfg.Web.ClientPublicURL() + livePath
}

// mount serves the token service and the webhook receiver on mux.
func (l *liveMode) mount(mux *http.ServeMux, verifier rtcauth.Verifier) {
	rtcauth.New(rtcauth.Options{
		URL: l.cfg.URL, Verifier: verifier, Access: l, Minter: l.minter, Rooms: l.rooms,
		Log: l.log.With().Str("component", "rtcauth").Logger(),
	}).Mount(mux, livePath)
	mux.Handle(webhookPath, livekit.WebhookHandler(l.webhooks, l.webhook, l.log))
}

// CheckLive is rtcauth.Access: the user must be joined to the room as
// Walkie last saw it, and the room in live mode. A room that passes has
// its LiveKit room name recorded, since LiveKit's webhooks name only that.
func (l *liveMode) CheckLive(ctx context.Context, roomID, userID string) error {
	room, joined, err := l.store.Room(ctx, roomID)
	switch {
	case errors.Is(err, store.ErrUnknownRoom):
		return rtcauth.ErrNotJoined
	case err != nil:
		return err
	case !joined || room.Members[userID] != "join":
		return rtcauth.ErrNotJoined
	case !room.Config.Live():
		return rtcauth.ErrNotLive
	}
	return l.store.RememberLiveKitRoom(ctx, livekit.RoomName(roomID), roomID)
}

// SetPublish is outbox.MediaPermissions: every participant of the room's
// call that Walkie minted a token for dev gets the permission (a device
// may be there twice, under a legacy and a member identity). One that is
// not there is no failure: its token cannot publish, and the engine
// allows the holder again when it joins.
func (l *liveMode) SetPublish(ctx context.Context, roomID string, dev floor.Device, allow bool) error {
	name := livekit.RoomName(roomID)
	participants, err := l.rooms.Participants(ctx, name)
	if err != nil {
		return err
	}
	for _, p := range participants {
		if p.UserID != dev.UserID || p.DeviceID != dev.DeviceID {
			continue
		}
		if err := l.rooms.SetPublish(ctx, name, p.Identity, allow); err != nil {
			return err
		}
	}
	return nil
}

// webhook decides a verified LiveKit event, synchronously: an error
// answers 500 and LiveKit sends the event again. Events about rooms or
// participants Walkie did not mint tokens for, and tracks other than
// microphones, are acknowledged and ignored.
func (l *liveMode) webhook(ctx context.Context, ev livekit.Event) error {
	result := "ignored"
	defer func() { l.metrics.Webhooks.WithLabelValues(string(ev.Kind), result).Inc() }()
	kind, ok := mediaKind(ev)
	if !ok {
		return nil // another track
	}
	roomID, known, err := l.store.LiveKitRoomOf(ctx, ev.Room)
	if err != nil {
		result = "error"
		return err
	}
	if !known {
		return nil
	}
	p, err := l.attributed(ctx, ev)
	if err != nil {
		result = "error"
		return err
	}
	if p.UserID == "" || p.DeviceID == "" {
		return nil // not a token of Walkie's, or gone already
	}
	in := floor.MediaEvent{Kind: kind, Device: floor.Device{UserID: p.UserID, DeviceID: p.DeviceID}, ID: ev.ID}
	if _, err := l.decider.DecideInputs(ctx, roomID, in); err != nil {
		result = "error"
		return fmt.Errorf("decide %s in %s: %w", kind, roomID, err)
	}
	result = "decided"
	return nil
}

// attributed is the participant an event is about, with the attributes
// that name its Matrix user and device. LiveKit's track webhooks carry the
// publisher's identity alone, so it is looked up in the room's listing;
// one that is gone has no attributes (a published track of a participant
// that left publishes nothing, and its participant_left tells the rest).
func (l *liveMode) attributed(ctx context.Context, ev livekit.Event) (livekit.Participant, error) {
	if ev.Participant.UserID != "" || (ev.Kind != livekit.TrackPublished && ev.Kind != livekit.TrackUnpublished) {
		return ev.Participant, nil
	}
	participants, err := l.rooms.Participants(ctx, ev.Room)
	if err != nil {
		return livekit.Participant{}, err
	}
	for _, p := range participants {
		if p.Identity == ev.Participant.Identity {
			return p, nil
		}
	}
	return livekit.Participant{}, nil
}

// mediaKind is what a webhook tells the floor: only a microphone counts
// as talking.
func mediaKind(ev livekit.Event) (floor.MediaEventKind, bool) {
	switch ev.Kind {
	case livekit.ParticipantJoined:
		return floor.MediaJoined, true
	case livekit.ParticipantLeft:
		return floor.MediaLeft, true
	case livekit.TrackPublished:
		return floor.MediaPublished, ev.Microphone
	case livekit.TrackUnpublished:
		return floor.MediaUnpublished, ev.Microphone
	}
	return "", false
}
