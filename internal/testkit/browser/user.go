package browser

import (
	"context"
	"fmt"
	"os"
	"sync"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// User is one person at the browser: a tab in a browser context of its own,
// so two users share no cookies, storage or service workers, as if they
// sat at different machines. Run actions on Context():
//
//	title, err := chromedp.Run(u.Context(), chromedp.Title())
type User struct {
	Name   string
	ctx    context.Context
	cancel context.CancelFunc
	log    *gate

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

// NewUser opens a tab (about:blank) in a new browser context, with the
// (fake) microphone granted to every origin. The user lives until ctx
// ends, Close is called or the browser closes. Its console
// messages and uncaught exceptions go to the browser's Logf as
// "name: type: text (url:line)", and are kept for Console and Exceptions.
func (b *Browser) NewUser(ctx context.Context, name string) (*User, error) {
	tabCtx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	stop := context.AfterFunc(ctx, cancel)
	u := &User{Name: name, ctx: tabCtx, log: b.log, cancel: func() { stop(); cancel() }}
	if err := chromedp.Do(tabCtx); err != nil { // opens the tab
		u.cancel()
		return nil, fmt.Errorf("open a tab for %s: %w", name, err)
	}
	if err := u.SetPermission("microphone", cdpbrowser.PermissionSettingGranted); err != nil {
		u.cancel()
		return nil, err
	}
	messages := chromedp.Console(tabCtx) // subscribed now, before any page loads
	go u.collect(messages)
	return u, nil
}

// collect keeps and logs the page's console until the tab closes.
func (u *User) collect(messages func(func(chromedp.ConsoleMessage, error) bool)) {
	for m, err := range messages {
		if err != nil {
			return
		}
		u.mu.Lock()
		u.messages = append(u.messages, m)
		u.mu.Unlock()
		where := ""
		if m.URL != "" {
			where = fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
		}
		u.log.printf("%s: %s%s", u.Name, m, where)
	}
}

// Context is the chromedp context of the user's tab. Derive deadlines from
// it for single actions; cancelling it closes the tab.
func (u *User) Context() context.Context { return u.ctx }

// Console is every console message and exception so far, as text.
func (u *User) Console() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]string, 0, len(u.messages))
	for _, m := range u.messages {
		out = append(out, m.String())
	}
	return out
}

// Exceptions is the text of each uncaught exception and unhandled promise
// rejection so far: a test can require there were none.
func (u *User) Exceptions() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for _, m := range u.messages {
		if m.IsException() {
			out = append(out, m.Text)
		}
	}
	return out
}

// Screenshot saves the visible part of the page as a PNG.
func (u *User) Screenshot(path string) error {
	png, err := chromedp.Run(u.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return fmt.Errorf("screenshot of %s: %w", u.Name, err)
	}
	return os.WriteFile(path, png, 0o644)
}

// SetPermission overrides a permission (such as "microphone") for every
// origin in the user's browser context, e.g. to see how the client
// explains a denied microphone ("prompt" counts as denied: headless
// Chromium dismisses every prompt):
//
//	u.SetPermission("microphone", cdpbrowser.PermissionSettingDenied)
func (u *User) SetPermission(name string, setting cdpbrowser.PermissionSetting) error {
	_, err := chromedp.CallBrowser(u.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission:       &cdpbrowser.PermissionDescriptor{Name: name},
		Setting:          setting,
		BrowserContextID: chromedp.FromContext(u.ctx).BrowserContextID,
	})
	if err != nil {
		return fmt.Errorf("set %s to %s for %s: %w", name, setting, u.Name, err)
	}
	return nil
}

// Close closes the tab and its browser context.
func (u *User) Close() { u.cancel() }
