package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// poster plays the homeserver's side of the Application Service API: it
// pushes transactions to Walkie's real HTTP endpoint with the hs_token.
type poster struct {
	client *http.Client
	base   string // …/_matrix/app/v1/transactions/
	auth   string
	seq    atomic.Int64
}

func newPoster(walkieURL, hsToken string, conns int) *poster {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// One kept-alive connection per sender, as a homeserver keeps its
	// connection to an appservice; the default of 2 would make the
	// generator open a connection per transaction.
	transport.MaxIdleConnsPerHost = conns
	return &poster{
		client: &http.Client{Transport: transport, Timeout: time.Minute},
		base:   walkieURL + "/_matrix/app/v1/transactions/",
		auth:   "Bearer " + hsToken,
	}
}

// push sends one transaction and waits for Walkie to acknowledge it, which
// it does once the events are durable in its inbox.
func (p *poster) push(ctx context.Context, events ...json.RawMessage) error {
	var body bytes.Buffer
	body.WriteString(`{"events":[`)
	for i, ev := range events {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(ev)
	}
	body.WriteString(`]}`)
	txnID := "bench" + strconv.FormatInt(p.seq.Add(1), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.base+txnID, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", p.auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("push transaction %s: %w", txnID, err)
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("push transaction %s: Walkie answered %s: %s", txnID, resp.Status, answer)
	}
	return nil
}

func (p *poster) close() { p.client.CloseIdleConnections() }
