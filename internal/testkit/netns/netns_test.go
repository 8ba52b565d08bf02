package netns

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func create(t *testing.T) *Namespace {
	t.Helper()
	n, err := Create(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Remove(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// A process inside reaches a listener on the host side, and the host sees
// it come from the namespace's own address.
func TestInsideReachesTheHostSide(t *testing.T) {
	n := create(t)
	l, err := net.Listen("tcp", net.JoinHostPort(n.HostIP(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	cmd := n.Command("bash", "-c", fmt.Sprintf("echo hello > /dev/tcp/%s/%d", n.HostIP(), port))
	done := make(chan error, 1)
	go func() {
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, out)
		}
		done <- err
	}()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "hello\n" {
		t.Fatalf("read %q, %v; want hello", line, err)
	}
	if got := conn.RemoteAddr().(*net.TCPAddr).IP.String(); got != n.PeerIP() {
		t.Errorf("the connection comes from %s, want the namespace's %s", got, n.PeerIP())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The namespace has its /30 and nothing else: no default route out.
func TestInsideHasNoRouteOut(t *testing.T) {
	n := create(t)
	out, err := n.Command("ip", "-4", "route", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	routes := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(routes) != 1 || !strings.Contains(routes[0], "/30") || strings.HasPrefix(routes[0], "default") {
		t.Fatalf("routes inside: %q, want only the veth's /30", routes)
	}
}

func TestRemoveDeletesNamespaceAndPair(t *testing.T) {
	n := create(t)
	if err := n.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(namespaceDir, n.Name())); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Remove (%v)", n.Name(), err)
	}
	if _, err := net.InterfaceByName(n.hostIf); err == nil {
		t.Errorf("the host side %s still exists after Remove", n.hostIf)
	}
	if err := n.Remove(); err != nil {
		t.Errorf("a second Remove: %v", err)
	}
}

// A namespace whose creator is gone is removed by the next Create; one
// whose creator lives is kept.
func TestCreateRemovesOrphans(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	orphan := fmt.Sprintf("%s%d-orphan", namePrefix, dead.Process.Pid)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := ip(ctx, "netns", "add", orphan); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ip(context.Background(), "netns", "del", orphan) })

	n := create(t)
	if _, err := os.Stat(filepath.Join(namespaceDir, orphan)); !os.IsNotExist(err) {
		t.Errorf("the orphan %s survived Create (%v)", orphan, err)
	}
	removeOrphans(ctx)
	if _, err := os.Stat(filepath.Join(namespaceDir, n.Name())); err != nil {
		t.Errorf("removeOrphans removed a live creator's namespace: %v", err)
	}
}

func TestCreatorPID(t *testing.T) {
	for name, want := range map[string]int{
		"walkie-123-ab12cd34": 123,
		"walkie-x-ab":         0,
		"walkie-123":          0,
		"other-123-ab":        0,
	} {
		if got, _ := creatorPID(name); got != want {
			t.Errorf("creatorPID(%q) = %d, want %d", name, got, want)
		}
	}
}
