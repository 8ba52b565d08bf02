package openid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// endpoint is where a server's federation API is asked.
type endpoint struct {
	base   *url.URL
	client *http.Client
	// dial, when set, is the host:port to connect to instead of the URL's
	// (an SRV target: the URL, the Host header and the TLS name keep the
	// server's own name, as the spec requires).
	dial string
}

type dialKey struct{}

// context carries the endpoint's dial target to the guarded transport.
func (ep endpoint) context(ctx context.Context) context.Context {
	if ep.dial == "" {
		return ctx
	}
	return context.WithValue(ctx, dialKey{}, ep.dial)
}

// resolver finds a server name's federation API: the configured servers
// first, then, when enabled, discovery as the spec says.
type resolver struct {
	servers map[string]*url.URL
	direct  *http.Client // for configured servers
	// discovery, nil when off; .well-known may redirect (to HTTPS only)
	guarded, wellKnownClient *http.Client
	lookupSRV                func(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)

	mu    sync.Mutex
	found map[string]discovered
}

type discovered struct {
	ep    endpoint
	until time.Time
}

// discoveryMemory is how long a discovered endpoint is reused (the spec
// lets a .well-known answer be cached for up to 48 h and errors for 1 h;
// one hour for both keeps a moved homeserver reachable soon).
const discoveryMemory = time.Hour

// maxDiscovered bounds the remembered discoveries: server names come from
// clients.
const maxDiscovered = 10_000

func newResolver(servers map[string]string, discover bool, timeout time.Duration) (*resolver, error) {
	r := &resolver{servers: map[string]*url.URL{}, found: map[string]discovered{}}
	for name, raw := range servers {
		u, err := parseServer(name, raw)
		if err != nil {
			return nil, fmt.Errorf("openid server %s: %w", name, err)
		}
		r.servers[name] = u
	}
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r.direct = &http.Client{Timeout: timeout, CheckRedirect: noRedirects}
	if discover {
		r.guarded = &http.Client{Timeout: timeout, CheckRedirect: noRedirects, Transport: guardedTransport(publicDialer())}
		r.wellKnownClient = &http.Client{Timeout: timeout, Transport: r.guarded.Transport, CheckRedirect: httpsRedirects}
		r.lookupSRV = net.DefaultResolver.LookupSRV
	}
	return r, nil
}

// resolve returns the endpoint of a server's federation API.
func (r *resolver) resolve(ctx context.Context, server string) (endpoint, error) {
	if u, ok := r.servers[server]; ok {
		return endpoint{base: u, client: r.direct}, nil
	}
	if r.guarded == nil {
		return endpoint{}, fmt.Errorf("%w: %s is not configured and discovery is off", ErrUnknownServer, server)
	}
	now := time.Now()
	r.mu.Lock()
	d, ok := r.found[server]
	r.mu.Unlock()
	if ok && now.Before(d.until) {
		return d.ep, nil
	}
	ep, err := r.discover(ctx, server)
	if err != nil {
		return endpoint{}, err
	}
	r.mu.Lock()
	if len(r.found) >= maxDiscovered {
		clear(r.found)
	}
	r.found[server] = discovered{ep: ep, until: now.Add(discoveryMemory)}
	r.mu.Unlock()
	return ep, nil
}

// discover follows the spec's "Resolving server names": an IP literal or
// an explicit port is used as it is; otherwise /.well-known/matrix/server
// may delegate to another name; a name without a port is looked up in SRV
// (_matrix-fed._tcp, then the deprecated _matrix._tcp); the default port
// is 8448.
func (r *resolver) discover(ctx context.Context, server string) (endpoint, error) {
	host, port, _ := splitServerName(server)
	if port != "" || isIPLiteral(host) {
		return r.https(host, port, ""), nil
	}
	if delegated, ok := r.wellKnown(ctx, host); ok {
		host, port, _ = splitServerName(delegated)
		if port != "" || isIPLiteral(host) {
			return r.https(host, port, ""), nil
		}
	}
	for _, service := range []string{"matrix-fed", "matrix"} {
		_, records, err := r.lookupSRV(ctx, service, "tcp", host)
		if err == nil && len(records) > 0 && records[0].Target != "." {
			target := strings.TrimSuffix(records[0].Target, ".")
			return r.https(host, "", net.JoinHostPort(target, strconv.Itoa(int(records[0].Port)))), nil
		}
	}
	return r.https(host, "", ""), nil
}

// https is the endpoint https://host[:port], port 8448 unless an SRV
// target (dial) is given.
func (r *resolver) https(host, port, dial string) endpoint {
	if port == "" && dial == "" {
		port = "8448"
	}
	hostport := host
	if port != "" {
		hostport = host + ":" + port
	}
	return endpoint{base: &url.URL{Scheme: "https", Host: hostport}, client: r.guarded, dial: dial}
}

func isIPLiteral(host string) bool {
	_, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil
}

// maxWellKnownBytes bounds a .well-known answer.
const maxWellKnownBytes = 16 << 10

// wellKnown asks https://host/.well-known/matrix/server for a delegated
// server name. Any failure means no delegation, as the spec says.
func (r *resolver) wellKnown(ctx context.Context, host string) (string, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/.well-known/matrix/server", nil)
	if err != nil {
		return "", false
	}
	resp, err := r.wellKnownClient.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWellKnownBytes))
	var doc struct {
		Server string `json:"m.server"`
	}
	if err != nil || json.Unmarshal(body, &doc) != nil || !ValidServerName(doc.Server) {
		return "", false
	}
	return doc.Server, true
}

// httpsRedirects lets a .well-known answer redirect a few times, to HTTPS.
func httpsRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 || req.URL.Scheme != "https" {
		return errors.New("too many redirects, or one away from HTTPS")
	}
	return nil
}

// errNotPublic refuses a connection to an address that is not on the
// public internet.
var errNotPublic = errors.New("refusing to connect to a non-public address during server discovery")

// publicOnly is the discovery dialer's check, made on the address actually
// dialled (after DNS), so a name resolving to an internal address is
// refused too.
func publicOnly(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	a := ap.Addr().Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() || sharedAddressSpace.Contains(a) || nat64.Contains(a) {
		return errNotPublic
	}
	return nil
}

var (
	sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT (RFC 6598)
	nat64              = netip.MustParsePrefix("64:ff9b::/96")  // would reach IPv4 space through a translator
)

// publicDialer dials only public addresses (publicOnly).
func publicDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error { return publicOnly(address) }}
	return dialer.DialContext
}

// guardedTransport is discovery's transport: it dials with dial, and an
// endpoint's SRV target instead of the URL's host.
func guardedTransport(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // a proxy would dial for us, past the guard
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if target, ok := ctx.Value(dialKey{}).(string); ok {
			addr = target
		}
		return dial(ctx, network, addr)
	}
	t.MaxIdleConnsPerHost = 4
	t.ResponseHeaderTimeout = 5 * time.Second
	return t
}
