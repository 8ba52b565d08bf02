package openid

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Options configure a Verifier.
type Options struct {
	// Servers maps server names to the base URL of their federation API
	// (scheme, host, port; no path), for the servers this deployment knows:
	// typically its own homeserver.domain to homeserver.address, where
	// Dendrite and Synapse serve /_matrix/federation on the same listener.
	// These are asked over the URL as given, http included.
	Servers map[string]string
	// Discover finds the federation API of any other server as the Matrix
	// spec says (/.well-known/matrix/server, SRV records, port 8448), over
	// HTTPS only, and never connects to a loopback, private, link-local or
	// otherwise non-public address: a client names the server, so without
	// that guard it could make Walkie probe the operator's network.
	Discover bool
	// Timeout bounds one verification (discovery included); default 5 s.
	Timeout time.Duration
	// MaxLifetime caps how long a verified token is remembered; default
	// 1 h. It is never longer than the token says it lives.
	MaxLifetime time.Duration
	// MaxEntries bounds the cache; default 100,000 (about 10 MB).
	MaxEntries int
	// MaxConcurrent bounds the verifications in flight at once, so a flood
	// of made-up tokens cannot turn Walkie into a flood on homeservers;
	// default 32. Further ones wait (within Timeout).
	MaxConcurrent int
}

// Verifier verifies OpenID tokens and remembers the answers. It is safe
// for concurrent use.
type Verifier struct {
	timeout, maxLifetime time.Duration
	maxEntries           int
	resolver             *resolver
	slots                chan struct{}
	now                  func() time.Time

	mu       sync.Mutex
	cache    map[cacheKey]cached
	inflight map[cacheKey]*call
}

// cacheKey is a hash of the server name and token: the token itself is
// not kept in memory longer than a verification.
type cacheKey [sha256.Size]byte

type cached struct {
	userID string
	until  time.Time
}

// call is a verification in flight that later askers of the same token wait for.
type call struct {
	done    chan struct{}
	waiters int // askers that joined it (for tests)
	userID  string
	err     error
}

// New makes a Verifier. It fails on a Servers entry that is not a usable
// base URL.
func New(opts Options) (*Verifier, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.MaxLifetime <= 0 {
		opts.MaxLifetime = time.Hour
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 100_000
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 32
	}
	res, err := newResolver(opts.Servers, opts.Discover, opts.Timeout)
	if err != nil {
		return nil, err
	}
	return &Verifier{
		timeout: opts.Timeout, maxLifetime: opts.MaxLifetime, maxEntries: opts.MaxEntries,
		resolver: res, slots: make(chan struct{}, opts.MaxConcurrent), now: time.Now,
		cache: map[cacheKey]cached{}, inflight: map[cacheKey]*call{},
	}, nil
}

// Verify returns the Matrix user ID the token was issued to, asking the
// token's homeserver unless a verification of the same token is
// remembered. The user's server is always the token's matrix_server_name.
func (v *Verifier) Verify(ctx context.Context, tok Token) (string, error) {
	if err := tok.check(); err != nil {
		return "", err
	}
	now := v.now()
	expires, known := tok.expiry(now)
	if known && !expires.After(now) {
		return "", ErrExpired
	}
	key := cacheKey(sha256.Sum256([]byte(tok.MatrixServerName + "\x00" + tok.AccessToken)))
	v.mu.Lock()
	if c, ok := v.cache[key]; ok && now.Before(c.until) {
		v.mu.Unlock()
		return c.userID, nil
	}
	if c, ok := v.inflight[key]; ok {
		c.waiters++
		v.mu.Unlock()
		select {
		case <-c.done:
			return c.userID, c.err
		case <-ctx.Done():
			return "", errors.Join(ErrUnavailable, ctx.Err())
		}
	}
	c := &call{done: make(chan struct{})}
	v.inflight[key] = c
	v.mu.Unlock()

	// The first asker's context bounds the shared call: waiters give up
	// with their own contexts.
	c.userID, c.err = v.ask(ctx, tok)
	v.mu.Lock()
	delete(v.inflight, key)
	if c.err == nil {
		until := now.Add(v.maxLifetime)
		if !known {
			until = now // no lifetime given: not remembered
		} else if expires.Before(until) {
			until = expires
		}
		if until.After(now) {
			v.remember(key, cached{userID: c.userID, until: until}, now)
		}
	}
	v.mu.Unlock()
	close(c.done)
	return c.userID, c.err
}

// expiry is when the token says it stops working, and whether it says so
// at all. The spec's expires_in is seconds from issuance; Dendrite 0.13
// sends an absolute Unix time in seconds. No lifetime is 30 years long,
// so a value past 10^9 (2001) is read as a time, and past 10^12 as one in
// milliseconds. The value is the client's word (it hands the token over):
// MaxLifetime bounds what an inflated one can buy, and the homeserver is
// asked at least that often.
func (t Token) expiry(now time.Time) (time.Time, bool) {
	switch {
	case t.ExpiresIn <= 0:
		return time.Time{}, false
	case t.ExpiresIn >= 1e12:
		return time.UnixMilli(t.ExpiresIn), true
	case t.ExpiresIn >= 1e9:
		return time.Unix(t.ExpiresIn, 0), true
	}
	return now.Add(time.Duration(t.ExpiresIn) * time.Second), true
}

// remember stores an answer, first dropping expired entries when the
// cache is full, then arbitrary ones (the cache is a shortcut, never the
// truth).
func (v *Verifier) remember(key cacheKey, c cached, now time.Time) {
	if len(v.cache) >= v.maxEntries {
		for k, e := range v.cache {
			if !now.Before(e.until) {
				delete(v.cache, k)
			}
		}
		for k := range v.cache {
			if len(v.cache) < v.maxEntries {
				break
			}
			delete(v.cache, k)
		}
	}
	v.cache[key] = c
}

// maxAnswerBytes bounds what is read of a homeserver's answer.
const maxAnswerBytes = 64 << 10

// ask puts the question to the token's homeserver.
func (v *Verifier) ask(ctx context.Context, tok Token) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	select {
	case v.slots <- struct{}{}:
		defer func() { <-v.slots }()
	case <-ctx.Done():
		return "", errors.Join(ErrUnavailable, errors.New("too many verifications in flight"))
	}
	ep, err := v.resolver.resolve(ctx, tok.MatrixServerName)
	if err != nil {
		return "", err
	}
	u := ep.base.JoinPath("/_matrix/federation/v1/openid/userinfo")
	u.RawQuery = url.Values{"access_token": {tok.AccessToken}}.Encode()
	req, err := http.NewRequestWithContext(ep.context(ctx), http.MethodGet, u.String(), nil)
	if err != nil {
		return "", errors.Join(ErrUnavailable, err)
	}
	req.Header.Set("User-Agent", "Walkie")
	resp, err := ep.client.Do(req)
	if err != nil {
		return "", errors.Join(ErrUnavailable, withoutURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	switch {
	case err != nil:
		return "", errors.Join(ErrUnavailable, withoutURL(err))
	case len(body) > maxAnswerBytes:
		return "", errors.Join(ErrUnavailable, errors.New("the answer is too long"))
	}
	return answer(tok.MatrixServerName, resp.StatusCode, body)
}

// answer reads the homeserver's answer.
func answer(server string, status int, body []byte) (string, error) {
	var a struct {
		Sub     string `json:"sub"`
		ErrCode string `json:"errcode"`
	}
	_ = json.Unmarshal(body, &a)
	switch {
	case status == http.StatusNotFound && a.ErrCode == "M_UNRECOGNIZED":
		return "", errors.Join(ErrUnavailable, errors.New("the homeserver does not serve openid/userinfo "+
			"(Dendrite answers so while its federation is disabled)"))
	case status == http.StatusTooManyRequests || status >= 500:
		return "", errors.Join(ErrUnavailable, fmt.Errorf("the homeserver answered %d", status))
	case status != http.StatusOK:
		return "", errors.Join(ErrRejected, fmt.Errorf("the homeserver answered %d %s", status, a.ErrCode))
	}
	got, ok := userServer(a.Sub)
	switch {
	case !ok:
		return "", errors.Join(ErrUnavailable, errors.New("the answer holds no user ID"))
	case got != server:
		return "", fmt.Errorf("%w: %s answered for %s", ErrWrongServer, server, a.Sub)
	}
	return a.Sub, nil
}

// withoutURL drops the request URL from an HTTP client error: it holds the
// access token.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}
