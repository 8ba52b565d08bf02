package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// After transactions were refused for want of the database, Walkie pings
// the homeserver once the database answers again.
func TestTheHomeserverIsPingedWhenTheDatabaseIsBack(t *testing.T) {
	var pings atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/appservice/walkie/ping") {
			pings.Add(1)
		}
		_, _ = w.Write([]byte(`{"duration_ms":1}`))
	}))
	defer hs.Close()
	svc, _ := newTestServiceOn(t, hs.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go svc.outageLoop(ctx)
	time.Sleep(1500 * time.Millisecond)
	if pings.Load() != 0 {
		t.Fatal("pinged without an outage")
	}
	svc.server.DatabaseOutage.Store(true)
	for deadline := time.Now().Add(5 * time.Second); pings.Load() == 0 || svc.server.DatabaseOutage.Load(); {
		if time.Now().After(deadline) {
			t.Fatalf("after the outage: %d pings, outage still flagged %v", pings.Load(), svc.server.DatabaseOutage.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
