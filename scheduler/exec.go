package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/runtime"
)

// Exec runs args in a running container of the instance (container ""
// is its first running one), on the instance's goroutine so the
// container cannot be replaced meanwhile. An unknown instance or
// container is errdefs.ErrNotFound; one with nothing running
// ErrFailedPrecondition.
func (s *Scheduler) Exec(instance, container string, args []string, timeout time.Duration) (runtime.ExecResult, error) {
	in, err := s.lookup(instance)
	if err != nil {
		return runtime.ExecResult{}, err
	}
	if container != "" {
		if _, err := s.Container(instance, container); err != nil {
			return runtime.ExecResult{}, err
		}
	}
	var res runtime.ExecResult
	err = in.call(func(ctx context.Context) error {
		for _, sl := range in.slots {
			if (container == "" || sl.name == container) && sl.running && sl.c != nil {
				var err error
				res, err = in.s.rt.Exec(ctx, sl.c, args, timeout)
				return err
			}
		}
		return errdefs.ErrFailedPrecondition.WithMessage(fmt.Sprintf("instance %s has no running container to run a command in", in.name))
	})
	return res, err
}
