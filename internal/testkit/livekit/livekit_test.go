package livekit

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/walkie-ptt/walkie/internal/testkit/checkout"
)

// The binary check compares with Version; it must name the release the
// tools module builds, and the one the Makefile checks for.
func TestVersionMatchesToolsModuleAndMakefile(t *testing.T) {
	root, err := checkout.Root()
	if err != nil {
		t.Fatal(err)
	}
	goMod, err := os.ReadFile(filepath.Join(root, toolsModuleDir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "github.com/livekit/livekit-server v" + Version; !strings.Contains(string(goMod), want) {
		t.Errorf("%s/go.mod does not require %q", toolsModuleDir, want)
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^LIVEKIT_VERSION := ` + regexp.QuoteMeta(Version) + `$`).Match(makefile) {
		t.Errorf("the Makefile does not say LIVEKIT_VERSION := %s", Version)
	}
}

func TestStartWithoutBinarySaysHowToBuildIt(t *testing.T) {
	_, err := Start(t.Context(), Options{BinDir: t.TempDir(), WorkDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make livekit") {
		t.Fatalf("Start without a binary = %v, want an error naming `make livekit`", err)
	}
}

// A server on loopback answers its HTTP port and its room API with the
// key and secret it was given, and refuses another secret.
func TestServerAnswersItsAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	lk, err := Start(ctx, Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lk.Stop)

	rooms := lksdk.NewRoomServiceClient(lk.APIURL(), lk.APIKey(), lk.APISecret())
	if _, err := rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "r1"}); err != nil {
		t.Fatalf("CreateRoom: %v\n%s", err, lk.Output())
	}
	list, err := rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Rooms) != 1 || list.Rooms[0].Name != "r1" {
		t.Fatalf("ListRooms = %v, want the room r1", list.Rooms)
	}
	forged := lksdk.NewRoomServiceClient(lk.APIURL(), lk.APIKey(), strings.Repeat("x", 52))
	if _, err := forged.ListRooms(ctx, &livekit.ListRoomsRequest{}); err == nil {
		t.Fatal("ListRooms with a wrong secret succeeded")
	}
	if !strings.HasPrefix(lk.URL(), "ws://127.0.0.1:") {
		t.Errorf("URL() = %q, want ws://127.0.0.1:<port>", lk.URL())
	}

	lk.Stop()
	if _, err := rooms.ListRooms(ctx, &livekit.ListRoomsRequest{}); err == nil {
		t.Fatal("the server still answers after Stop")
	}
	if _, err := os.Stat(lk.dir); !os.IsNotExist(err) {
		t.Fatalf("Stop left %s behind (%v)", lk.dir, err)
	}
}
