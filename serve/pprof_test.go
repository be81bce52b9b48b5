package serve

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// EASLOCAL_PPROF serves the profiles on loopback and refuses any other
// address, naming the variable and a loopback example.
func TestPprofLoopbackOnly(t *testing.T) {
	for _, bad := range []string{"0.0.0.0:0", ":6060", "10.0.0.1:6060", "nonsense"} {
		if _, err := startPprof(bad); err == nil || !strings.Contains(err.Error(), EnvPprof) || !strings.Contains(err.Error(), "127.0.0.1:6060") {
			t.Errorf("startPprof(%q) = %v, want a refusal naming %s and a loopback example", bad, err, EnvPprof)
		}
	}
	addr, err := startPprof("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "heap profile") {
		t.Errorf("GET heap profile: %d %.80q", resp.StatusCode, b)
	}
}
