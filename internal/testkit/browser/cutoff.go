package browser

import (
	"context"
	"fmt"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// emulateByRule is Network.emulateNetworkConditionsByRule as Chromium 148
// takes it: `offline` at the top level, which cdproto v0.159's typed
// params lack (Chromium answers them "Invalid parameters").
var emulateByRule = cdp.Command[map[string]any, map[string]any]{Method: "Network.emulateNetworkConditionsByRule"}

// CutOff makes the user's tab fail every connection to URLs matching
// urlPattern (URLPattern syntax, absolute, e.g. "ws://127.0.0.1:8080/path*")
// as if the network were down for them, WebSockets included; other
// requests and navigator.onLine are unaffected. It lasts for the tab's
// life, across reloads. (Network.setBlockedURLs, which blocks fetches,
// lets WebSockets through in Chromium 148.) Each call replaces the last.
func (u *User) CutOff(urlPattern string) error {
	err := chromedp.Do(u.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, emulateByRule, map[string]any{
			"offline": true,
			"matchedNetworkConditions": []map[string]any{
				{"urlPattern": urlPattern, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
			},
		})
		return err
	}))
	if err != nil {
		return fmt.Errorf("cut %s off from %s: %w", u.Name, urlPattern, err)
	}
	return nil
}
