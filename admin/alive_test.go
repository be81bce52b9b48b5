package admin

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// A killed process its parent has not reaped yet still answers kill(pid, 0);
// it must count as gone so `down` right after a crash cleans up.
func TestAliveTreatsZombieAsDead(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "exit 0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatal("child never became a zombie")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if alive(pid) {
		t.Fatalf("alive(%d) = true for a zombie", pid)
	}
	if !alive(os.Getpid()) {
		t.Fatal("alive(self) = false")
	}
}
