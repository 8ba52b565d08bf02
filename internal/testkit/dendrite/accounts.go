package dendrite

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// sharedSecretRegisterPath is the Synapse-compatible admin registration API,
// which Dendrite serves when client_api.registration_shared_secret is set.
const sharedSecretRegisterPath = "/_synapse/admin/v1/register"

// RegisterUser creates an account through the shared-secret admin API and
// returns its full user ID. The password must be at least 8 characters
// (Dendrite's minimum).
func (d *Server) RegisterUser(ctx context.Context, localpart, password string, admin bool) (id.UserID, error) {
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := d.adminCall(ctx, http.MethodGet, nil, &nonce); err != nil {
		return "", fmt.Errorf("register %s: get nonce: %w", localpart, err)
	}
	body := struct {
		Nonce    string `json:"nonce"`
		Username string `json:"username"`
		Password string `json:"password"`
		Admin    bool   `json:"admin"`
		MAC      string `json:"mac"`
	}{nonce.Nonce, localpart, password, admin, d.registrationMAC(nonce.Nonce, localpart, password, admin)}
	var registered struct {
		UserID id.UserID `json:"user_id"`
	}
	if err := d.adminCall(ctx, http.MethodPost, body, &registered); err != nil {
		return "", fmt.Errorf("register %s: %w", localpart, err)
	}
	return registered.UserID, nil
}

// registrationMAC is HMAC-SHA1, keyed with the shared secret, over
// nonce NUL username NUL password NUL "admin"|"notadmin", hex encoded
// (Dendrite's clientapi/routing/register_secret.go, same as Synapse).
func (d *Server) registrationMAC(nonce, localpart, password string, admin bool) string {
	role := "notadmin"
	if admin {
		role = "admin"
	}
	mac := hmac.New(sha1.New, []byte(d.sharedSecret))
	for i, part := range []string{nonce, localpart, password, role} {
		if i > 0 {
			mac.Write([]byte{0})
		}
		mac.Write([]byte(part))
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// adminCall sends one JSON request to the shared-secret registration
// endpoint and decodes the JSON answer into out.
func (d *Server) adminCall(ctx context.Context, method string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.url+sharedSecretRegisterPath, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, sharedSecretRegisterPath, resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

// Login logs localpart in with its password as the given device and returns
// a client holding that device's access token. Logging the same user in with
// different device IDs yields independent devices of one account.
func (d *Server) Login(ctx context.Context, localpart, password, deviceID string) (*mautrix.Client, error) {
	client, err := mautrix.NewClient(d.url, "", "")
	if err != nil {
		return nil, err
	}
	_, err = client.Login(ctx, &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: localpart},
		Password:         password,
		DeviceID:         id.DeviceID(deviceID),
		StoreCredentials: true,
	})
	if err != nil {
		return nil, fmt.Errorf("login %s as device %s: %w", localpart, deviceID, err)
	}
	return client, nil
}

// NewUser registers localpart (not as an admin) and logs it in as deviceID:
// the usual start of a test user, which RegisterUser and Login keep apart
// because a user may log in more devices.
func (d *Server) NewUser(ctx context.Context, localpart, password, deviceID string) (*mautrix.Client, error) {
	if _, err := d.RegisterUser(ctx, localpart, password, false); err != nil {
		return nil, err
	}
	return d.Login(ctx, localpart, password, deviceID)
}
