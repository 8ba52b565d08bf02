// Package webclient tests Walkie's reference web client end to end: the
// real walkie binary serving it, PostgreSQL, Dendrite, and Debian's
// Chromium with a fake microphone, one browser context per person. The
// tests log in through the form, publish permits through the page, hold
// the talk button and check what each person sees and hears.
package webclient
