package openid

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// discoveryWorld is a TLS server standing in for every host of a test's
// internet (its certificate covers example.com and *.example.com), with
// the hostnames and SRV records the test gives.
type discoveryWorld struct {
	srv     *httptest.Server
	mu      sync.Mutex
	hosts   map[string]bool // host:port that resolve to the server
	records map[string]*net.SRV
	// wellKnown answers /.well-known/matrix/server per Host header.
	wellKnown map[string]string
	// userinfoHosts records the Host header of each userinfo request.
	userinfoHosts []string
	dialled       []string
}

func newDiscoveryWorld(t *testing.T) (*discoveryWorld, *Verifier) {
	w := &discoveryWorld{hosts: map[string]bool{}, records: map[string]*net.SRV{}, wellKnown: map[string]string{}}
	w.srv = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch r.URL.Path {
		case "/.well-known/matrix/server":
			if doc, ok := w.wellKnown[r.Host]; ok {
				fmt.Fprint(rw, doc)
				return
			}
			http.NotFound(rw, r)
		case "/_matrix/federation/v1/openid/userinfo":
			w.userinfoHosts = append(w.userinfoHosts, r.Host)
			fmt.Fprint(rw, `{"sub":"@alice:hs.example.com"}`)
		default:
			http.NotFound(rw, r)
		}
	}))
	t.Cleanup(w.srv.Close)
	v, err := New(Options{Discover: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{}
	transport := guardedTransport(func(ctx context.Context, network, addr string) (net.Conn, error) {
		w.mu.Lock()
		known := w.hosts[addr]
		w.dialled = append(w.dialled, addr)
		w.mu.Unlock()
		if !known {
			return nil, fmt.Errorf("no such host %s", addr)
		}
		return dialer.DialContext(ctx, network, w.srv.Listener.Addr().String())
	})
	transport.TLSClientConfig = &tls.Config{RootCAs: w.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	v.resolver.guarded.Transport = transport
	v.resolver.wellKnownClient.Transport = transport
	v.resolver.lookupSRV = func(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if rec, ok := w.records["_"+service+"._"+proto+"."+name]; ok {
			return "", []*net.SRV{rec}, nil
		}
		return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return w, v
}

func (w *discoveryWorld) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.userinfoHosts, w.dialled = nil, nil
}

func TestDiscoveryFollowsTheSpec(t *testing.T) {
	for _, tc := range []struct {
		name       string
		server     string
		hosts      []string
		wellKnown  map[string]string
		srv        map[string]*net.SRV
		wantHost   string // Host header of the userinfo request
		wantDialed string // the last address dialled
	}{
		{name: "explicit port: no lookups", server: "hs.example.com:8449",
			hosts: []string{"hs.example.com:8449"}, wantHost: "hs.example.com:8449", wantDialed: "hs.example.com:8449"},
		{name: "no delegation, no SRV: port 8448", server: "hs.example.com",
			hosts: []string{"hs.example.com:8448"}, wantHost: "hs.example.com:8448", wantDialed: "hs.example.com:8448"},
		{name: "well-known delegates to a name with a port", server: "hs.example.com",
			hosts:     []string{"hs.example.com:443", "fed.example.com:9000"},
			wellKnown: map[string]string{"hs.example.com": `{"m.server":"fed.example.com:9000"}`},
			wantHost:  "fed.example.com:9000", wantDialed: "fed.example.com:9000"},
		{name: "well-known delegates to a name with an SRV record", server: "hs.example.com",
			hosts:     []string{"hs.example.com:443", "target.example.com:8500"},
			wellKnown: map[string]string{"hs.example.com": `{"m.server":"fed.example.com"}`},
			srv:       map[string]*net.SRV{"_matrix-fed._tcp.fed.example.com": {Target: "target.example.com.", Port: 8500}},
			wantHost:  "fed.example.com", wantDialed: "target.example.com:8500"},
		{name: "SRV on the server name (deprecated _matrix)", server: "hs.example.com",
			hosts:    []string{"target.example.com:8501"},
			srv:      map[string]*net.SRV{"_matrix._tcp.hs.example.com": {Target: "target.example.com.", Port: 8501}},
			wantHost: "hs.example.com", wantDialed: "target.example.com:8501"},
		{name: "a broken well-known is no delegation", server: "hs.example.com",
			hosts:     []string{"hs.example.com:443", "hs.example.com:8448"},
			wellKnown: map[string]string{"hs.example.com": `{"m.server":"not a name"}`},
			wantHost:  "hs.example.com:8448", wantDialed: "hs.example.com:8448"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, v := newDiscoveryWorld(t)
			for _, h := range tc.hosts {
				w.hosts[h] = true
			}
			w.wellKnown, w.records = tc.wellKnown, tc.srv
			if w.records == nil {
				w.records = map[string]*net.SRV{}
			}
			if w.wellKnown == nil {
				w.wellKnown = map[string]string{}
			}
			tok := Token{AccessToken: "tok", TokenType: "Bearer", MatrixServerName: tc.server, ExpiresIn: 600}
			user, err := v.Verify(context.Background(), tok)
			if tc.server == "hs.example.com" {
				if err != nil || user != "@alice:hs.example.com" {
					t.Fatalf("got %q, %v (dialled %v)", user, err, w.dialled)
				}
			} else if !errors.Is(err, ErrWrongServer) { // the fake answers for hs.example.com
				t.Fatalf("got %q, %v (dialled %v)", user, err, w.dialled)
			}
			if len(w.userinfoHosts) != 1 || w.userinfoHosts[0] != tc.wantHost {
				t.Errorf("userinfo asked with Host %v, want %s", w.userinfoHosts, tc.wantHost)
			}
			if last := w.dialled[len(w.dialled)-1]; last != tc.wantDialed {
				t.Errorf("dialled %v, want the userinfo request to %s", w.dialled, tc.wantDialed)
			}

			// The endpoint is remembered: no second discovery.
			w.reset()
			if _, err := v.Verify(context.Background(), Token{AccessToken: "tok2", TokenType: "Bearer", MatrixServerName: tc.server, ExpiresIn: 600}); err != nil && !errors.Is(err, ErrWrongServer) {
				t.Fatal(err)
			}
			for _, d := range w.dialled {
				if strings.HasSuffix(d, ":443") {
					t.Errorf("asked the well-known again: dialled %v", w.dialled)
				}
			}
		})
	}
}

func TestDiscoveryIsOffByDefault(t *testing.T) {
	v, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), Token{AccessToken: "tok", TokenType: "Bearer", MatrixServerName: "matrix.org", ExpiresIn: 600})
	if !errors.Is(err, ErrUnknownServer) {
		t.Fatalf("got %v, want ErrUnknownServer", err)
	}
}

func TestDiscoveryConnectsOnlyToPublicAddresses(t *testing.T) {
	for addr, public := range map[string]bool{
		"127.0.0.1:8448": false, "[::1]:8448": false, "10.1.2.3:443": false, "192.168.1.1:443": false,
		"172.16.0.1:443": false, "169.254.169.254:80": false, "0.0.0.0:443": false, "100.64.0.1:443": false,
		"[fe80::1]:443": false, "[fd00::1]:443": false, "[::ffff:127.0.0.1]:443": false, "[64:ff9b::a00:1]:443": false,
		"224.0.0.1:443": false, "8.8.8.8:443": true, "[2001:4860:4860::8888]:443": true,
	} {
		if err := publicOnly(addr); (err == nil) != public {
			t.Errorf("publicOnly(%s) = %v, want public %v", addr, err, public)
		}
	}
	// The dialer applies it to the address it actually connects to.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := publicDialer()(context.Background(), "tcp", ln.Addr().String()); !errors.Is(err, errNotPublic) {
		t.Fatalf("dialling loopback: %v, want errNotPublic", err)
	}
	// And so does a Verifier that discovers: a server name that is a
	// loopback address is not asked.
	v, err := New(Options{Discover: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), Token{AccessToken: "tok", TokenType: "Bearer", MatrixServerName: ln.Addr().String(), ExpiresIn: 600})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "non-public") {
		t.Fatalf("got %v, want a refusal to connect", err)
	}
}
