// Package webclient serves Walkie's reference web client: plain ES modules
// embedded in the binary (no bundler, no Node toolchain), and the small
// JSON document that tells the client which homeserver and controller it
// works with. It knows nothing of floors or databases: the client talks to
// the homeserver itself, and to Walkie's floor channel where one is served.
package webclient

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var embedded embed.FS

// Assets are the client's files, as served (index.html at the root).
func Assets() fs.FS {
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err) // the directory is embedded above: it exists
	}
	return sub
}

// ClientConfig is what the client reads from ConfigPath before it shows
// anything: whom to trust, and where to log in.
type ClientConfig struct {
	// Controller is the bot's user ID: the only sender whose floor state
	// and talk responses the client believes.
	Controller string `json:"controller"`
	// HomeserverURL is the client-server API the login form suggests.
	HomeserverURL string `json:"homeserver_url"`
	// ServerName is the homeserver's domain, for user IDs typed without one.
	ServerName string `json:"server_name"`
	// FloorChannel is the floor channel's path on this listener, "" when
	// none is served.
	FloorChannel string `json:"floor_channel,omitempty"`
	Version      string `json:"version"`
}

// ConfigPath is where the client fetches its ClientConfig.
const ConfigPath = "/_walkie/client/v1/config"

// file is one asset ready to serve, compressed once at start-up.
type file struct {
	contentType string
	etag        string
	body, gz    []byte
}

// Handler serves the client. Every asset is revalidated on each load (its
// ETag is its content hash), so an upgraded Walkie never leaves a browser
// running a mix of old and new modules.
type Handler struct {
	files  map[string]*file
	config []byte
}

// New prepares the files and the client config document.
func New(cfg ClientConfig) (*Handler, error) {
	h := &Handler{files: map[string]*file{}}
	var err error
	if h.config, err = json.Marshal(cfg); err != nil {
		return nil, err
	}
	err = fs.WalkDir(Assets(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(Assets(), name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		f := &file{body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			contentType: mime.TypeByExtension(path.Ext(name))}
		if f.contentType == "" {
			f.contentType = "application/octet-stream"
		}
		if compressible(f.contentType) {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = zw.Write(body)
			_ = zw.Close()
			f.gz = buf.Bytes()
		}
		h.files["/"+name] = f
		return nil
	})
	return h, err
}

func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") || strings.Contains(contentType, "javascript") ||
		strings.Contains(contentType, "json") || strings.Contains(contentType, "svg")
}

// contentSecurityPolicy lets the client load only its own code, and talk
// to any homeserver (the user picks it at login) and to this listener.
// Media comes from the homeserver as blobs. frame-ancestors is open so the
// client works as a room widget.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"connect-src *; img-src 'self' data: blob:; media-src 'self' blob:; worker-src 'self' blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors *"

// ServeHTTP serves the config document and the assets; every other path is
// the client's index, so a reloaded deep link still opens the client.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	header := w.Header()
	header.Set("X-Content-Type-Options", "nosniff")
	header.Set("Referrer-Policy", "no-referrer")
	if r.URL.Path == ConfigPath {
		header.Set("Content-Type", "application/json")
		header.Set("Cache-Control", "no-store")
		header.Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(h.config)
		return
	}
	f, ok := h.files[r.URL.Path]
	if !ok {
		if strings.HasPrefix(r.URL.Path, "/_walkie/") || path.Ext(r.URL.Path) != "" {
			http.NotFound(w, r)
			return
		}
		f = h.files["/index.html"]
	}
	header.Set("Content-Type", f.contentType)
	header.Set("Cache-Control", "no-cache")
	header.Set("ETag", f.etag)
	header.Set("Vary", "Accept-Encoding")
	if strings.HasPrefix(f.contentType, "text/html") {
		header.Set("Content-Security-Policy", contentSecurityPolicy)
	}
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gz != nil && acceptsGzip(r) {
		header.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if strings.TrimSpace(strings.SplitN(part, ";", 2)[0]) == "gzip" {
			return true
		}
	}
	return false
}

// OwnGzippedSize is the total of the client's own assets (third-party
// files under vendor/ aside) as served to a browser that accepts gzip: the
// number docs/client.md holds to its budget.
func (h *Handler) OwnGzippedSize() int {
	n := 0
	for name, f := range h.files {
		if strings.HasPrefix(name, "/vendor/") {
			continue
		}
		if f.gz != nil {
			n += len(f.gz)
		} else {
			n += len(f.body)
		}
	}
	return n
}
