package webclient

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New(ClientConfig{Controller: "@walkie:example.org", HomeserverURL: "https://matrix.example.org", ServerName: "example.org", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(h http.Handler, path string, header ...string) *http.Response {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestServesTheClientConfig(t *testing.T) {
	resp := get(newHandler(t), ConfigPath)
	var got ClientConfig
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Controller != "@walkie:example.org" || got.HomeserverURL != "https://matrix.example.org" || got.ServerName != "example.org" {
		t.Errorf("config = %+v", got)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q: a stale controller ID would make the client distrust the real one", resp.Header.Get("Cache-Control"))
	}
}

func TestDeepLinksOpenTheIndexButMissingFilesAre404(t *testing.T) {
	h := newHandler(t)
	for path, want := range map[string]int{
		"/":                          http.StatusOK,
		"/index.html":                http.StatusOK,
		"/room/abc":                  http.StatusOK, // a reloaded client route
		"/missing.js":                http.StatusNotFound,
		"/_walkie/client/v1/nothing": http.StatusNotFound,
	} {
		resp := get(h, path)
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
		if want == http.StatusOK && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: Content-Type %q", path, resp.Header.Get("Content-Type"))
		}
		if want == http.StatusOK && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: no content security policy", path)
		}
	}
}

func TestRevalidatesAndCompresses(t *testing.T) {
	h := newHandler(t)
	first := get(h, "/index.html", "Accept-Encoding", "br, gzip;q=0.8")
	if first.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q", first.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(first.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if !strings.Contains(string(body), "<html") {
		t.Errorf("unzipped body is not the index: %.80q", body)
	}
	again := get(h, "/index.html", "If-None-Match", first.Header.Get("ETag"))
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation = %d, want 304", again.StatusCode)
	}
}

func TestRefusesWrites(t *testing.T) {
	w := httptest.NewRecorder()
	newHandler(t).ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x")))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d", w.Code)
	}
}

// The client's own code stays small: docs/client.md promises at most
// 100 KB gzipped, third-party files under vendor/ aside.
func TestClientFitsItsBudget(t *testing.T) {
	const budget = 100 << 10
	n := newHandler(t).OwnGzippedSize()
	if n > budget {
		t.Errorf("the client is %d bytes gzipped; the budget is %d", n, budget)
	}
	t.Logf("the client is %.1f KB gzipped, of a budget of %d KB", float64(n)/1024, budget>>10)
}
