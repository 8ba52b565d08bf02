package pg

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// serverOwner is the OS account that owns a cluster's files and runs its
// tools. initdb, pg_ctl and postgres all refuse to run as root, so when this
// process is root they run as the `postgres` account instead. A nil
// *serverOwner means "the current user".
//
// The switch is done with SysProcAttr.Credential rather than runuser or su:
// it is the same setuid/setgid, needs no extra binary and keeps the
// arguments free of shell quoting.
type serverOwner struct {
	name     string
	uid, gid uint32
}

// ownerAccount is the account Debian's postgresql package creates.
const ownerAccount = "postgres"

func currentOwner() (*serverOwner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(ownerAccount)
	if err != nil {
		return nil, fmt.Errorf("pg: running as root, but PostgreSQL refuses root and there is "+
			"no %q OS account to run it as (apt-get install -y postgresql creates one): %w", ownerAccount, err)
	}
	uid, errUID := strconv.ParseUint(u.Uid, 10, 32)
	gid, errGID := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(errUID, errGID); err != nil {
		return nil, fmt.Errorf("pg: account %q has a non-numeric uid/gid: %w", ownerAccount, err)
	}
	return &serverOwner{name: u.Username, uid: uint32(uid), gid: uint32(gid)}, nil
}

// chown hands path to the owner; a no-op when running as the owner already.
func (o *serverOwner) chown(path string) error {
	if o == nil {
		return nil
	}
	return os.Chown(path, int(o.uid), int(o.gid))
}

func (o *serverOwner) sysProcAttr() *syscall.SysProcAttr {
	if o == nil {
		return nil
	}
	// An empty Groups list drops root's supplementary groups too.
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: o.uid, Gid: o.gid, Groups: []uint32{}}}
}
