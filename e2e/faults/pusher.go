package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
)

// Pusher plays the homeserver's side of the Application Service API: it
// PUTs transactions to Walkie's /_matrix/app/v1/transactions/{txnId} and,
// as a homeserver does, retries the same transaction (same ID, same body)
// until Walkie answers 200. An event counts as acknowledged only then.
//
// With more than one target (replicas behind one homeserver config), each
// attempt goes to a target picked at random.
type Pusher struct {
	targets []string
	auth    string
	prefix  string
	client  *http.Client

	seq      atomic.Int64
	acked    atomic.Int64 // events acknowledged
	txns     atomic.Int64 // transactions acknowledged
	attempts atomic.Int64 // PUTs made, first tries and retries
	netErrs  atomic.Int64 // attempts that got no HTTP answer

	mu       sync.Mutex
	statuses map[int]int
	byTarget map[string]int
	eventIDs []string
}

// NewPusher pushes to the given Walkie base URLs with hsToken. txnPrefix
// keeps transaction IDs of several pushers apart.
func NewPusher(hsToken, txnPrefix string, targets ...string) *Pusher {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 4
	return &Pusher{
		targets:  targets,
		auth:     "Bearer " + hsToken,
		prefix:   txnPrefix,
		client:   &http.Client{Transport: transport, Timeout: 30 * time.Second},
		statuses: map[int]int{},
		byTarget: map[string]int{},
	}
}

// retryDelay is the pause between attempts at one transaction: short, so a
// test spends its time on faults rather than waiting, but not a busy loop.
const retryDelay = 50 * time.Millisecond

// Push delivers one transaction, retrying until Walkie acknowledges it or
// ctx ends. The events must carry event IDs unique to the test.
func (p *Pusher) Push(ctx context.Context, events ...json.RawMessage) error {
	body, err := json.Marshal(map[string][]json.RawMessage{"events": events})
	if err != nil {
		return err
	}
	txnID := fmt.Sprintf("%s%d", p.prefix, p.seq.Add(1))
	for {
		target := p.targets[rand.IntN(len(p.targets))]
		status, err := p.put(ctx, target, txnID, body)
		p.attempts.Add(1)
		p.mu.Lock()
		if err != nil {
			p.netErrs.Add(1)
		} else {
			p.statuses[status]++
		}
		if status == http.StatusOK {
			p.byTarget[target]++
			for _, raw := range events {
				p.eventIDs = append(p.eventIDs, roomevents.ID(raw))
			}
		}
		p.mu.Unlock()
		if status == http.StatusOK {
			p.txns.Add(1)
			p.acked.Add(int64(len(events)))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("transaction %s not acknowledged: %w (last status %d, error %v)", txnID, ctx.Err(), status, err)
		case <-time.After(retryDelay):
		}
	}
}

func (p *Pusher) put(ctx context.Context, target, txnID string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target+"/_matrix/app/v1/transactions/"+txnID, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", p.auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// PusherStats summarise a pusher's work.
type PusherStats struct {
	Transactions  int64 // acknowledged
	Events        int64 // acknowledged
	Attempts      int64 // PUTs, including retries
	NetworkErrors int64 // attempts without an HTTP answer (Walkie down)
	Statuses      map[int]int
	ByTarget      map[string]int // acknowledged transactions per target
}

// Stats returns the counts so far.
func (p *Pusher) Stats() PusherStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := PusherStats{Transactions: p.txns.Load(), Events: p.acked.Load(), Attempts: p.attempts.Load(),
		NetworkErrors: p.netErrs.Load(), Statuses: map[int]int{}, ByTarget: map[string]int{}}
	for k, v := range p.statuses {
		s.Statuses[k] = v
	}
	for k, v := range p.byTarget {
		s.ByTarget[k] = v
	}
	return s
}

// Acknowledged lists the event IDs of every acknowledged event.
func (p *Pusher) Acknowledged() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.eventIDs...)
}
