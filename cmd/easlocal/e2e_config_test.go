package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/internal/testutil"
)

// End-to-end tests of service.json shapes the PAI SDK writes: the name
// at the top level, the top-level token, and shared memory at /dev/shm
// (metadata.shm_size, or storage[].empty_dir with medium memory), checked
// from inside the running container: its script prints its own
// /proc/mounts lines before it execs the app.

// mountsOf waits for the instance's log to show its mount lines and
// returns them by mount point.
func mountsOf(t *testing.T, s *svc, instance string) (mounts map[string][]string, log string) {
	t.Helper()
	testutil.WaitFor(t, time.Minute, e2ePoll, "the container's mount lines in its log", func() bool {
		log = s.ctl(time.Minute, "logs", s.name, instance).out
		return strings.Contains(log, "mount: ")
	})
	mounts = map[string][]string{}
	for _, line := range strings.Split(log, "\n") {
		_, rest, ok := strings.Cut(line, "mount: ")
		if f := strings.Fields(rest); ok && len(f) >= 4 {
			mounts[f[1]] = f // device, mount point, type, options
		}
	}
	return mounts, log
}

func TestE2ETopLevelNameTokenAndShmSize(t *testing.T) {
	s := upSvc(t, "e2e_toplevel", "toplevel")
	st := s.ps()
	if st.Name != s.name || len(st.Instances) != 1 {
		t.Fatalf("ps: %+v; want the service named by the top-level name, with 1 instance", st)
	}

	// The top-level token guards the gateway (no --token was given).
	if code, body := get(t, s.predict("/")); code != http.StatusUnauthorized {
		t.Errorf("a request without the token: %d %q, want 401", code, body)
	}
	req, _ := http.NewRequest("GET", s.predict("/"), nil)
	req.Header.Set("Authorization", "e2e-top-level-token")
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a request with the service.json token: %d, want 200", resp.StatusCode)
	}

	mounts, log := mountsOf(t, s, st.Instances[0].Name)
	if m := mounts["/dev/shm"]; len(m) < 4 || m[2] != "tmpfs" || !strings.Contains(m[3], "size=1048576k") {
		t.Errorf("/dev/shm is %q; want a tmpfs of 1 GB (metadata.shm_size 1)\n%s", m, log)
	}
	if m := mounts["/scratch"]; len(m) < 4 || m[2] == "tmpfs" {
		t.Errorf("/scratch (a plain empty_dir) is %q; want a directory on disk\n%s", m, log)
	}
	if !strings.Contains(log, "scratch entries: 0") {
		t.Errorf("the empty_dir was not empty at start:\n%s", log)
	}
}

func TestE2EMemoryEmptyDirIsShm(t *testing.T) {
	s := upSvc(t, "e2e_shm", "shm")
	mounts, log := mountsOf(t, s, s.ps().Instances[0].Name)
	if m := mounts["/dev/shm"]; len(m) < 4 || m[2] != "tmpfs" || !strings.Contains(m[3], "size=1048576k") {
		t.Errorf("/dev/shm is %q; want a tmpfs of size_limit 1 GB\n%s", m, log)
	}
	if n := strings.Count(log, " /dev/shm "); n != 1 {
		t.Errorf("/dev/shm is mounted %d times; want one (the storage entry, not stacked on the default)\n%s", n, log)
	}
}
