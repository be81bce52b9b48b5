// Package wsframe sends and receives WebSocket messages with their type
// (text or binary), which golang.org/x/net/websocket's own codecs do not
// keep. The example app's /ws echoes with it; the end-to-end tests and
// the gateway's WebSocket tests check the echo with it.
package wsframe
