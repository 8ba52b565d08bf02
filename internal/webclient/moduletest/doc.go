// Package moduletest holds browser tests of the web client's logic modules
// (assets/*.js) that need no homeserver: each imports one module into a
// blank page in Chromium and checks what it decides. The client's
// behaviour with people and a stack is tested in e2e/webclient.
package moduletest
