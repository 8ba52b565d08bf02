// Package audiotest holds the browser tests of the web client's audio
// modules (assets/audio): recording from Chromium's fake microphone into
// Ogg Opus chunks, checking each chunk as a standalone file, and playing
// them back until the test tone is heard. They live apart from package
// webclient so that the handler's unit tests stay fast and start no
// browser.
package audiotest
