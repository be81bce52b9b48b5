package admin_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
)

// /metrics, served with HandlePage, answers GET without the token so
// Prometheus can scrape it; writing through it is refused, and every
// other route still needs the token.
func TestMetricsWithoutToken(t *testing.T) {
	f := admintest.New(demoStatus())
	srv, _ := start(t, f, admin.Options{Token: "s3cret"})
	srv.HandlePage("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "up 1\n")
	}))
	// A pattern without a method is still read-only.
	srv.HandlePage("/open", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "read\n")
	}))
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/metrics", "", 200},
		{"HEAD", "/metrics", "", 200},
		{"GET", "/metrics", "wrong", 200}, // a stale header does not break scraping
		{"POST", "/metrics", "", 401},
		{"POST", "/metrics", "s3cret", 404}, // not an API route
		{"GET", "/open", "", 200},
		{"POST", "/open", "", 405},
		{"GET", "/v1/status", "", 401},
		{"POST", "/v1/down", "", 401},
		{"POST", "/v1/instances/demo-0/kill", "", 401},
		{"GET", "/v1/status", "s3cret", 200},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL()+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s (token %q) = %d %s, want %d", tc.method, tc.path, tc.token, resp.StatusCode, strings.TrimSpace(string(b)), tc.want)
		}
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("requests without the token reached the controller: %v", calls)
	}
}
