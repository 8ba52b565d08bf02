package walkieproc_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/fakehs"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The life the fault tests give a walkie process: configured through
// `walkie -g` before the homeserver knows its token, started, killed,
// started again on the same config, and joined by a replica.
func TestKillRestartAndReplica(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	hs := fakehs.Start(fakehs.Options{BotUserID: "@walkie:proc.test"})
	defer hs.Close()
	w, err := walkieproc.Configure(ctx, walkieproc.Options{Dir: t.TempDir(), DatabaseURL: pgtest.NewDatabase(t),
		Domain: "proc.test", Metrics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	as := w.Config.AppService
	if as.ASToken == "" || strings.Contains(as.ASToken, " ") || w.BotUserID() != "@walkie:proc.test" {
		t.Fatalf("walkie -g left as_token %q, bot %s", as.ASToken, w.BotUserID())
	}
	hs.Accept(as.ASToken)
	if err := w.SetHomeserverURL(hs.URL()); err != nil {
		t.Fatal(err)
	}
	if w.Config.AppService.ASToken != as.ASToken || w.Config.Homeserver.Address != hs.URL() {
		t.Fatalf("the rewritten config lost the tokens or the address: %+v", w.Config.Homeserver)
	}

	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err == nil {
		t.Error("a second Start of a running process succeeded")
	}
	resp, err := http.Get(w.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("metrics at %s answered %s", w.MetricsURL(), resp.Status)
	}
	w.Kill()
	if w.Running() {
		t.Fatal("running after Kill")
	}
	if err := w.Start(ctx); err != nil || !w.Running() || w.Starts() != 2 {
		t.Fatalf("restart: %v, running %v, starts %d", err, w.Running(), w.Starts())
	}

	r, err := w.Replica(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if r.URL() == w.URL() || r.MetricsURL() == w.MetricsURL() || r.Config.AppService.HSToken != as.HSToken {
		t.Errorf("replica at %s (metrics %s) beside %s (%s)", r.URL(), r.MetricsURL(), w.URL(), w.MetricsURL())
	}
	w.Stop()
	r.Stop()
	if out := w.Output(); !strings.Contains(out, `"level":"debug"`) {
		t.Errorf("the output kept lacks walkie's debug log:\n%s", w.OutputTail())
	}
}
