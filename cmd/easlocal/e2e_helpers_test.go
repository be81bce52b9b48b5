package main

// Steps the end-to-end tests share beyond those of e2e_test.go: start a
// service, run easlocal with a service's flags, drive a foreground `up`,
// and the checks after a teardown.

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/internal/testutil"
)

// upSvc runs the test in parallel with the others, prepares the service
// from testdata/e2e/<spec>.json (see newSvc) and brings it up with
// `up -d` and the flags extra.
func upSvc(t *testing.T, base, spec string, extra ...string) *svc {
	t.Helper()
	t.Parallel()
	s := newSvc(t, base, spec)
	s.up(extra...)
	return s
}

// cmdline is the easlocal command line cmd ("up -d", "up", "run") of
// the service: the test flags (upArgs) with extra, then its file.
func (s *svc) cmdline(cmd string, extra ...string) []string {
	return append(append(strings.Fields(cmd), s.upArgs(extra...)...), s.file)
}

// upForeground starts a foreground `up` of the service with n
// instances, its standard output to stdout (nil: dropped). exited gets
// the end of the process; the end of the test kills it if it still runs.
func (s *svc) upForeground(n int, stdout io.Writer) (cmd *exec.Cmd, exited <-chan error, stderr *testutil.SyncBuffer) {
	s.t.Helper()
	cmd = exec.Command(e2e.bin, s.cmdline("up", "--instances", fmt.Sprint(n))...)
	cmd.Env = binEnv()
	stderr = &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	ended := make(chan error, 1)
	reaped := make(chan struct{})
	go func() { ended <- cmd.Wait(); close(reaped) }()
	s.t.Cleanup(func() {
		cmd.Process.Kill()
		<-reaped
	})
	return cmd, ended, stderr
}

// waitExit waits, at most within, for a foreground `up` to end after
// what (a signal) and returns how it ended; the test fails when it
// does not end.
func waitExit(t *testing.T, exited <-chan error, within time.Duration, what string, stderr fmt.Stringer) error {
	t.Helper()
	select {
	case err := <-exited:
		return err
	case <-time.After(within):
		t.Fatalf("up did not end within %s of %s:\n%s", within, what, stderr)
		return nil
	}
}

// assertUnregistered checks that the service's registry entry is gone
// after what.
func (s *svc) assertUnregistered(after string) {
	s.t.Helper()
	if _, err := os.Stat(filepath.Join(s.reg, s.name+".json")); err == nil {
		s.t.Errorf("the registry entry is still there after %s", after)
	}
}

// downLeftovers runs `down [args] NAME` for a service whose easlocal
// died (what names the case): it must say it removed what was left, and
// nothing may be left.
func (s *svc) downLeftovers(what string, args ...string) {
	s.t.Helper()
	r := s.ctl(3*time.Minute, "down", append(args, s.name)...)
	if r.code != 0 || !strings.Contains(r.out, "removed what an earlier run left behind") {
		s.t.Errorf("down after %s: %s", what, r)
	}
	assertNothingLeft(s.t, s.name)
}

// assertFresh checks that ps lists n instances, each ready and never
// restarted (what names the case).
func (s *svc) assertFresh(n int, what string) {
	s.t.Helper()
	st := s.ps()
	if len(st.Instances) != n {
		s.t.Fatalf("%s: want %d instances, got %+v", what, n, st)
	}
	for _, in := range st.Instances {
		if !in.Ready || in.Restarts != 0 {
			s.t.Errorf("%s: instance %+v", what, in)
		}
	}
}
