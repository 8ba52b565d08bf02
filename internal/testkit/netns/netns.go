// Package netns gives a test a network namespace joined to the host's by a
// veth pair, so that a Go WebRTC participant has a non-loopback address:
// pion's ICE agent (the Go LiveKit SDK's) skips loopback interfaces and has
// no switch for it, so participants on 127.0.0.1 never connect.
//
// The pair gets a private /30 out of 10.213.0.0/16: the host side (HostIP)
// stays in the host's namespace, where a server (LiveKit) listens on it and
// processes and browsers on the host reach it as a local address; the
// other side (PeerIP) lives in the namespace, which has no other interface
// but its own loopback and no route out. Command runs a program inside it
// (`ip netns exec`), as a separate process: pion starts goroutines on
// threads of its own, so switching one thread into the namespace (setns)
// would not hold for all of them.
//
// It needs root and iproute2's `ip`; without them Create fails saying so.
// Remove deletes the namespace, which destroys the veth pair with it. A
// test binary that dies without its cleanups leaves both behind; the name
// records the creator's PID, so the next Create removes them.
package netns

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// Namespace is a network namespace with one veth pair into it.
type Namespace struct {
	name   string
	hostIf string
	hostIP netip.Addr
	peerIP netip.Addr

	removeOnce sync.Once
	removeErr  error
}

// namePrefix starts every namespace this package creates; the creator's
// PID follows (see removeOrphans).
const namePrefix = "walkie-"

// subnetBase is the /16 the /30s are drawn from.
var subnetBase = netip.MustParseAddr("10.213.0.0")

// Create makes a namespace and its veth pair, both up, with addresses. On
// an error it removes what it had made.
func Create(ctx context.Context) (*Namespace, error) {
	if err := Require(); err != nil {
		return nil, err
	}
	removeOrphans(ctx)
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	tag := hex.EncodeToString(id)
	host, peer, err := freeSubnet()
	if err != nil {
		return nil, err
	}
	n := &Namespace{
		name:   fmt.Sprintf("%s%d-%s", namePrefix, os.Getpid(), tag),
		hostIf: "wk" + tag + "h", // at most 15 characters, the kernel's limit
		hostIP: host,
		peerIP: peer,
	}
	peerIf := "wk" + tag + "p"
	steps := [][]string{
		{"netns", "add", n.name},
		{"link", "add", n.hostIf, "type", "veth", "peer", "name", peerIf, "netns", n.name},
		{"addr", "add", host.String() + "/30", "dev", n.hostIf},
		{"link", "set", n.hostIf, "up"},
		{"-n", n.name, "addr", "add", peer.String() + "/30", "dev", peerIf},
		{"-n", n.name, "link", "set", peerIf, "up"},
		{"-n", n.name, "link", "set", "lo", "up"},
	}
	for _, args := range steps {
		if err := ip(ctx, args...); err != nil {
			_ = n.Remove()
			return nil, err
		}
	}
	return n, nil
}

// Require checks that this process can create namespaces: root, and `ip`.
func Require() error {
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("netns: the `ip` command (iproute2) is missing; install it (apt-get install iproute2)")
	}
	if os.Geteuid() != 0 {
		return errors.New("netns: creating a network namespace needs root; run the tests as root")
	}
	return nil
}

// Name is the namespace's name, as `ip netns list` shows it.
func (n *Namespace) Name() string { return n.name }

// HostIP is the host side's address, reachable from inside the namespace
// and from the host.
func (n *Namespace) HostIP() string { return n.hostIP.String() }

// PeerIP is the address of the namespace's side.
func (n *Namespace) PeerIP() string { return n.peerIP.String() }

// Command runs name with args inside the namespace. The caller starts it
// (proc.Start ties its life to the test binary's: `ip netns exec` execs
// the program in its own process, so the parent-death signal holds).
func (n *Namespace) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

// Remove deletes the namespace (and with it the veth pair). Processes
// still inside keep it alive until they exit, but nothing of it is visible
// by name any more. Safe to call more than once.
func (n *Namespace) Remove() error {
	n.removeOnce.Do(func() {
		// A background context: a cleanup must run even when the test's
		// context has ended.
		err := ip(context.Background(), "netns", "del", n.name)
		if err != nil && !strings.Contains(err.Error(), "No such file") {
			n.removeErr = err
		}
		// Gone with the namespace normally; left only if the pair was made
		// but not moved.
		_ = ip(context.Background(), "link", "del", n.hostIf)
	})
	return n.removeErr
}

func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netns: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// freeSubnet draws a /30 out of subnetBase's /16 that no interface of the
// host has an address in, and returns its two usable addresses. Another
// test creating one at the same moment could draw the same one (1 in
// 16,384); the second `ip addr add` does not fail then, but routing would,
// visibly.
func freeSubnet() (host, peer netip.Addr, err error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return host, peer, fmt.Errorf("netns: list the host's addresses: %w", err)
	}
	base := binary.BigEndian.Uint32(subnetBase.AsSlice())
	for range 64 {
		var r [2]byte
		_, _ = rand.Read(r[:])
		start := base + uint32(binary.BigEndian.Uint16(r[:])&0x3fff)*4
		prefix := netip.PrefixFrom(addrFrom(start), 30)
		if !inUse(addrs, prefix) {
			return addrFrom(start + 1), addrFrom(start + 2), nil
		}
	}
	return host, peer, errors.New("netns: found no free /30 in 10.213.0.0/16")
}

func addrFrom(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// inUse: an address of the host lies in p, or a host subnet contains p.
func inUse(addrs []net.Addr, p netip.Prefix) bool {
	for _, a := range addrs {
		ipNet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		hp, err := netip.ParsePrefix(ipNet.String())
		if err == nil && hp.Addr().Is4() && hp.Overlaps(p) {
			return true
		}
	}
	return false
}
