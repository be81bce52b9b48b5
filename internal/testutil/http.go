package testutil

import (
	"net/http"
	"testing"
)

// EventStream sends req and returns its answer, failing t unless that is
// a text/event-stream. The caller closes the body.
func EventStream(t testing.TB, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("Content-Type = %q, want text/event-stream", ct)
	}
	return resp
}
