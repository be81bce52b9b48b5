package admin

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Process identifies one process for certain. A PID alone does not: once
// its process ends the kernel hands the number to the next process, so
// an entry left by a crashed easlocal may name an unrelated program. The
// start time (clock ticks after boot, field 22 of /proc/PID/stat) and
// the executable (/proc/PID/exe) of the process are recorded beside it
// and must match before the PID is trusted or signalled.
type Process struct {
	PID   int
	Start uint64
	Exe   string
}

// ProcessOf returns the identity of the process pid now.
func ProcessOf(pid int) (Process, error) {
	st, err := readStat(pid)
	if err != nil {
		return Process{}, err
	}
	exe, err := exeOf(pid)
	if err != nil {
		return Process{}, err
	}
	return Process{PID: pid, Start: st.start, Exe: exe}, nil
}

// Self is the identity of this process.
func Self() (Process, error) { return ProcessOf(os.Getpid()) }

// Running reports whether p still runs: its PID exists with the same
// start time and executable and is not a zombie (killed, not yet reaped:
// it serves nothing and will never unregister). A Process without a
// start time or executable is never running: it cannot be told apart
// from a reused PID.
func (p Process) Running() bool {
	if p.PID <= 0 || p.Start == 0 || p.Exe == "" {
		return false
	}
	st, err := readStat(p.PID)
	if err != nil || st.state == 'Z' || st.state == 'X' || st.start != p.Start {
		return false
	}
	exe, err := exeOf(p.PID)
	return err == nil && exe == p.Exe
}

type procStat struct {
	state byte
	start uint64
}

// readStat reads the state (field 3) and start time (field 22) of
// /proc/PID/stat, "pid (comm) S ppid ...": comm may hold spaces and
// parentheses, so fields are counted after its last ')'.
func readStat(pid int) (procStat, error) {
	if pid <= 0 {
		return procStat{}, fmt.Errorf("pid %d is not a process", pid)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields after the command name, want at least 20", pid, len(f))
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	return procStat{state: f[0][0], start: start}, nil
}

// exeOf is the executable of pid. A binary replaced while it runs (a
// rebuild) reads "PATH (deleted)"; it is still the same program.
func exeOf(pid int) (string, error) {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return "", err
	}
	if exe == "" {
		return "", errors.New("no executable")
	}
	return strings.TrimSuffix(exe, " (deleted)"), nil
}
