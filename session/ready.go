package session

import "github.com/easlocal/easlocal/scheduler"

// notReadyReport is the scheduler's report (scheduler.NotReadyError) of
// the desired instances in all that are not ready, or "" when every one
// is. The control API sends it, so `up -d` and `run` say the same.
func notReadyReport(desired int, all []scheduler.InstanceStatus) string {
	nr := &scheduler.NotReadyError{Want: desired}
	ready := 0
	for _, in := range all {
		switch {
		case in.State == scheduler.StateTerminating: // being scaled away or replaced
		case in.Ready:
			ready++
		default:
			nr.NotReady = append(nr.NotReady, in)
		}
	}
	if ready >= desired {
		return ""
	}
	return nr.Error()
}
