package runtime

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
)

// A log past its cap becomes .log.prev and a new one starts: neither
// file ever exceeds the cap, and the newest output is in the .log.
func TestLogWriterCapsAndRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "c0.log")
	const capBytes = 8 << 10
	w, err := openLog(dir, path, capBytes, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		fmt.Fprintf(w, "line %05d of a service that prints as fast as it can\n", i)
	}
	w.Close()
	for _, p := range []string{path, path + ".prev"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > capBytes || fi.Size() == 0 {
			t.Errorf("%s is %d bytes; want 1..%d", p, fi.Size(), capBytes)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	b, _ := os.ReadFile(path)
	if !strings.HasSuffix(string(b), "line 04999 of a service that prints as fast as it can\n") {
		t.Errorf("the newest line is not at the end of the log: %q", b[max(0, len(b)-80):])
	}
	// Reopened (a restart appends): the cap counts what is already there.
	w, _ = openLog(dir, path, capBytes, nil, nil)
	w.Write([]byte(strings.Repeat("x", capBytes-10) + "\n"))
	w.Close()
	if fi, _ := os.Stat(path); fi.Size() > capBytes {
		t.Errorf("after reopening the log is %d bytes, over its cap %d", fi.Size(), capBytes)
	}
	// Zero means the default cap.
	w, _ = openLog(dir, filepath.Join(dir, "d.log"), 0, nil, nil)
	if w.limit != DefaultLogMaxSize {
		t.Errorf("default cap %d, want %d", w.limit, DefaultLogMaxSize)
	}
	w.Close()
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("terminal gone") }

// Output that cannot be written is reported once per episode, for the
// file (here /dev/full: ENOSPC, as a full disk) and for the live stream.
func TestLogWriterReportsDrops(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	var drops []LogDrop
	w := &logWriter{path: "/dev/full", limit: DefaultLogMaxSize, file: full, onDrop: func(d LogDrop) { drops = append(drops, d) }}
	for range 3 {
		w.Write([]byte("a line that cannot be kept\n"))
	}
	w.Close()
	if len(drops) != 1 || !errors.Is(drops[0].Err, syscall.ENOSPC) || drops[0].Bytes != 27 || drops[0].Live {
		t.Errorf("file drops %+v, want one ENOSPC for 27 bytes", drops)
	}

	var mu sync.Mutex
	drops = nil
	dir := t.TempDir()
	w, err = openLog(dir, filepath.Join(dir, "c0.log"), 0, failWriter{}, func(d LogDrop) { mu.Lock(); drops = append(drops, d); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		w.Write([]byte("a line\n"))
	}
	w.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(drops) != 1 || !drops[0].Live || drops[0].Err == nil {
		t.Errorf("live drops %+v, want one for the failed stream", drops)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "c0.log")); string(b) != "a line\na line\na line\n" {
		t.Errorf("the file lost output with the live stream: %q", b)
	}
}

// gateWriter blocks every write until open is closed: a stalled terminal.
type gateWriter struct {
	open chan struct{}
	mu   sync.Mutex
	got  []byte
}

func (g *gateWriter) Write(p []byte) (int, error) {
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	g.got = append(g.got, p...)
	return len(p), nil
}

// A live stream that stops reading (a terminal paused, a pipe not read)
// blocks neither the container nor its log file: past maxLiveQueued the
// stream skips output, says so once, and gets the queued output when it
// resumes. Before, Write waited on the stream and the bubble deadlocked.
func TestLogWriterStalledLiveStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		gate := &gateWriter{open: make(chan struct{})}
		var drops []LogDrop
		w, err := openLog(dir, filepath.Join(dir, "c0.log"), 64<<20, gate, func(d LogDrop) { drops = append(drops, d) })
		if err != nil {
			t.Fatal(err)
		}
		line := []byte(strings.Repeat("x", 1023) + "\n")
		for range 4 << 10 { // 4 MiB, four times the queue
			w.Write(line)
		}
		synctest.Wait()
		if len(drops) != 1 || !drops[0].Live || !errors.Is(drops[0].Err, ErrLiveBehind) {
			t.Errorf("drops %+v, want one ErrLiveBehind", drops)
		}
		if fi, _ := os.Stat(filepath.Join(dir, "c0.log")); fi.Size() != 4<<20 {
			t.Errorf("the log file has %d bytes, want all %d", fi.Size(), 4<<20)
		}
		close(gate.open)
		w.Close()
		gate.mu.Lock()
		defer gate.mu.Unlock()
		if n := len(gate.got); n == 0 || n > maxLiveQueued {
			t.Errorf("the live stream got %d bytes, want 1..%d", n, maxLiveQueued)
		}
	})
}

// Arguments and env that execve would refuse are refused before the
// container starts, with the kernel's reason and without the value.
func TestCheckExecSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string // "" = accepted
	}{
		{"small", []string{"/app"}, []string{"A=1"}, ""},
		{"entry at the per-entry limit", []string{"/app"}, []string{"A=" + strings.Repeat("x", maxArgStrlen-3)}, ""},
		{"env entry over the per-entry limit", []string{"/app"}, []string{"SECRET=" + strings.Repeat("x", 200<<10)}, "env SECRET is 204807 bytes"},
		{"argument over the per-entry limit", []string{"/app", strings.Repeat("y", maxArgStrlen)}, nil, "an argument is"},
		{"total over the limit", []string{"/app"}, repeat("E="+strings.Repeat("z", 100<<10), 70), "the environment and arguments take"},
	} {
		err := checkExecSize(tc.args, tc.env)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "argument list too long (E2BIG)")):
			t.Errorf("%s: error %v, want %q and the E2BIG reason", tc.name, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "xxxx"):
			t.Errorf("%s: the error shows the value: %v", tc.name, err)
		}
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// Directories and files are private from their first write, and ones
// that existed with looser modes are tightened.
func TestPrivateModes(t *testing.T) {
	root := t.TempDir()
	os.Chmod(root, 0o755)
	loose := filepath.Join(root, "logs", "svc")
	os.MkdirAll(loose, 0o755)
	leaf := filepath.Join(loose, "inst")
	if err := privateDir(root, leaf); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root, filepath.Join(root, "logs"), loose, leaf} {
		if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o700 {
			t.Errorf("%s mode %v, want 0700", d, fi.Mode().Perm())
		}
	}
	if err := privateDir(filepath.Join(root, "logs"), root); err == nil {
		t.Errorf("privateDir accepted a directory above its root")
	}
	f := filepath.Join(leaf, "c0.log")
	os.WriteFile(f, []byte("old\n"), 0o644)
	if err := writePrivate(f, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", f, fi.Mode().Perm())
	}
	// A file that is not what easlocal writes is refused, not read whole.
	os.WriteFile(f, make([]byte, 1<<20), 0o600)
	if _, err := readSmall(f, 64<<10); err == nil {
		t.Errorf("readSmall read a 1 MiB file with a 64 KiB limit")
	}
}

func TestHostMountWarnings(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	link := filepath.Join(dir, "etc-link")
	os.Symlink("/etc", link)
	models := filepath.Join(dir, "models")
	os.Mkdir(models, 0o755)
	for _, tc := range []struct {
		path string
		want []string // substrings, one per warning; nil = no warning
	}{
		{"/", []string{"host's root directory"}},
		{"/etc", []string{"is /etc"}},
		{"/etc/ssl", []string{"under /etc"}},
		{"/run/containerd", []string{"under /run"}},
		{"/var/run", []string{"/run"}},
		{"/var/lib/containerd", []string{"is /var/lib/containerd"}},
		{"/var/lib/easlocal/logs", []string{"under /var/lib/easlocal"}},
		{link, []string{"is /etc"}},
		{sock, []string{"is a socket"}},
		{models, nil},
		{"/etcetera", nil},
		{filepath.Join(dir, "missing"), nil},
	} {
		got := HostMountWarnings(tc.path)
		if len(got) != len(tc.want) {
			t.Errorf("HostMountWarnings(%s) = %q, want %d warnings", tc.path, got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) || !strings.Contains(got[i], tc.path) {
				t.Errorf("HostMountWarnings(%s)[%d] = %q, want it to name the path and say %q", tc.path, i, got[i], w)
			}
		}
	}
}

// Limits that would wrap when converted to bytes or a CFS quota are
// refused, naming the limit, instead of becoming another limit.
func TestCheckResources(t *testing.T) {
	for _, tc := range []struct {
		cfg  ContainerConfig
		want string
	}{
		{ContainerConfig{Name: "c0"}, ""},
		{ContainerConfig{Name: "c0", Memory: 1 << 20, CPU: 64}, ""},
		{ContainerConfig{Name: "c0", Memory: maxMemoryMB, CPU: maxCPU}, ""},
		{ContainerConfig{Name: "c0", Memory: 1<<44 + 1}, "memory limit 17592186044417 MB"},
		{ContainerConfig{Name: "c0", Memory: -1}, "memory limit -1 MB"},
		{ContainerConfig{Name: "c0", CPU: 1<<53 - 1}, "CPU limit 9007199254740991 cores"},
		{ContainerConfig{Name: "c0", CPU: -2}, "CPU limit -2 cores"},
	} {
		err := checkResources(tc.cfg)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("checkResources(memory %d, cpu %d) = %v, want %q", tc.cfg.Memory, tc.cfg.CPU, err, tc.want)
		}
	}
}

// logTail reads only the end of the private containerd's log, however
// long the daemon wrote before it died.
func TestLogTailReadsOnlyTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "containerd.log")
	f, _ := os.Create(path)
	chunk := []byte(strings.Repeat("level=info msg=\"noise\"\n", 1000))
	for range 700 { // about 16 MiB
		f.Write(chunk)
	}
	f.WriteString("level=fatal msg=\"the reason\"\n")
	f.Close()
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	got := logTail(path, 0)
	goruntime.ReadMemStats(&after)
	if !strings.HasSuffix(got, `level=fatal msg="the reason"`) || strings.Count(got, "\n") != 4 {
		t.Errorf("logTail = %q, want the last 5 lines", got)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("logTail allocated %d bytes for a 16 MiB log: it read all of it", alloc)
	}
}

// A log that cannot be rotated (its directory refuses the rename) is
// emptied instead, so the cap still holds, and that loss is reported.
func TestLogWriterRotationFailureKeepsTheCap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c0.log")
	var drops []LogDrop
	w, err := openLog(dir, path, minLogMaxSize, nil, func(d LogDrop) { drops = append(drops, d) })
	if err != nil {
		t.Fatal(err)
	}
	// A directory where .prev should go makes the rename fail.
	if err := os.MkdirAll(filepath.Join(path+".prev", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("y", 99) + "\n")
	for range 200 {
		w.Write(line)
	}
	w.Close()
	if fi, _ := os.Stat(path); fi.Size() > minLogMaxSize {
		t.Errorf("log is %d bytes, over its cap %d", fi.Size(), minLogMaxSize)
	}
	if len(drops) != 1 || drops[0].Bytes == 0 || !strings.Contains(drops[0].Err.Error(), "rotate") {
		t.Errorf("drops %+v, want one rotation failure with the bytes emptied", drops)
	}
}
