package admintest

import (
	"fmt"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/admin"
)

// FaultStarted is when every fault a FaultFake takes starts.
var FaultStarted = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// FaultFake is a Fake that also takes faults (admin.FaultController). It
// numbers them f1, f2, ..., starts each at FaultStarted (ending For
// later), keeps the active ones (kill and exit are over once sent) and
// records each call in Calls: "inject KIND INSTANCE status=... for=...",
// "clear ID", "clear all". Safe for concurrent use.
type FaultFake struct {
	*Fake

	mu     sync.Mutex
	seq    int
	faults []admin.Fault
}

// NewFaultFake returns a FaultFake with the given status.
func NewFaultFake(st admin.ServiceStatus) *FaultFake {
	return &FaultFake{Fake: New(st)}
}

// InjectFault implements admin.FaultController.
func (f *FaultFake) InjectFault(x admin.Fault) (admin.Fault, error) {
	f.calls.Add("inject %s %s status=%d reset=%v percent=%d first=%d delay=%s rate=%q for=%s",
		x.Kind, x.Instance, x.Status, x.Reset, x.Percent, x.First, x.Delay, x.Rate, x.For)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	x.ID = fmt.Sprintf("f%d", f.seq)
	x.Started = FaultStarted
	if x.For > 0 {
		x.Ends = x.Started.Add(x.For)
	}
	if x.Kind != admin.FaultKill && x.Kind != admin.FaultExit {
		f.faults = append(f.faults, x)
	}
	return x, nil
}

// Faults implements admin.FaultController: the active faults.
func (f *FaultFake) Faults() []admin.Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]admin.Fault(nil), f.faults...)
}

// ClearFault implements admin.FaultController; an id that is not active
// is errdefs.ErrNotFound.
func (f *FaultFake) ClearFault(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.faults {
		if x.ID == id {
			f.faults = append(f.faults[:i], f.faults[i+1:]...)
			f.calls.Add("clear %s", id)
			return nil
		}
	}
	return errdefs.ErrNotFound.WithMessage("no active fault " + id)
}

// ClearFaults implements admin.FaultController.
func (f *FaultFake) ClearFaults() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
	f.calls.Add("clear all")
	return nil
}
