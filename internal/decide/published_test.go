package decide_test

import (
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
)

// The floor channel's first push and resyncs read the room from the store;
// they must carry the token service's URL in live mode like the state
// event does, or a client that joined through the channel cannot connect.
func TestPublishedFloorNamesTheTokenServiceInLiveRooms(t *testing.T) {
	d := decide.New(decide.Options{LiveKitServiceURL: "https://walkie.example.org/_walkie/v1/livekit"})
	room := floor.NewRoom("!room:example.org", "@walkie:example.org", floor.Config{Mode: floor.ModeLive})
	if fs := d.PublishedFloor(room, time.Now()); fs.Mode != floor.ModeLive || fs.LiveKitServiceURL != "https://walkie.example.org/_walkie/v1/livekit" {
		t.Errorf("live room: mode %q, service %q", fs.Mode, fs.LiveKitServiceURL)
	}
	room.Config.Mode = floor.ModeBroadcast
	if fs := d.PublishedFloor(room, time.Now()); fs.Mode != "" || fs.LiveKitServiceURL != "" {
		t.Errorf("broadcast room: mode %q, service %q", fs.Mode, fs.LiveKitServiceURL)
	}
}
