package admin

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// A killed process its parent has not reaped yet still has a
// /proc/PID/stat with its start time; it must count as gone so `down`
// right after a crash cleans up.
func TestRunningTreatsZombieAsDead(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer cmd.Wait()
	p, err := ProcessOf(pid)
	if err != nil || !p.Running() {
		cmd.Process.Kill()
		t.Fatalf("ProcessOf(%d) = %+v, %v", pid, p, err)
	}
	cmd.Process.Kill() // a zombie until Wait
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := readStat(pid)
		if err != nil {
			t.Fatal(err)
		}
		if st.state == 'Z' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("child never became a zombie")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if p.Running() {
		t.Fatalf("Running() = true for a zombie (%+v)", p)
	}
	self, err := Self()
	if err != nil || !self.Running() {
		t.Fatalf("Self() = %+v, %v; want a running process", self, err)
	}
}

// A process is this process only with the same PID, start time and
// executable; without a start time it cannot be told from a reused PID.
func TestProcessIdentity(t *testing.T) {
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if self.PID != os.Getpid() || self.Start == 0 || self.Exe != exe {
		t.Errorf("Self() = %+v; want pid %d, a start time and exe %s", self, os.Getpid(), exe)
	}
	for name, p := range map[string]Process{
		"another start time": {PID: self.PID, Start: self.Start + 1, Exe: self.Exe},
		"another executable": {PID: self.PID, Start: self.Start, Exe: "/usr/bin/sleep"},
		"no start time":      {PID: self.PID, Exe: self.Exe},
		"no executable":      {PID: self.PID, Start: self.Start},
	} {
		if p.Running() {
			t.Errorf("%s: Running() = true for %+v", name, p)
		}
	}
}

// A command name with spaces and parentheses does not shift the fields.
func TestReadStatOddCommandName(t *testing.T) {
	dir := t.TempDir()
	odd := dir + "/a b) (c"
	if err := os.Symlink("/bin/sleep", odd); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	p, err := ProcessOf(cmd.Process.Pid)
	if err != nil || !p.Running() {
		t.Fatalf("ProcessOf(%q) = %+v, %v", odd, p, err)
	}
}
