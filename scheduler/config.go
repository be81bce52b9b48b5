package scheduler

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

// containerName is the name of containers[i] inside its pod.
func containerName(i int) string { return "c" + strconv.Itoa(i) }

// commandArgs turns command/script into the runtime's Args, split the
// same way `easlocal validate` shows them.
func commandArgs(c *service.Container) ([]string, error) { return c.Args() }

// mountPlan is the list of host directories bound into every container,
// decided once per Run.
type mountPlan struct {
	mounts []runtime.Mount
	// unbound lists storage[] mount paths that got an empty directory.
	unbound []string
	// tmpDir, when set, holds the empty directories and is removed at the
	// end of Run.
	tmpDir string
}

// planMounts binds storage[].mount_path to the host directories of
// Options.Mounts; an entry without one gets an empty directory under
// stateDir so the image still finds its path. Options.Mounts entries that
// storage[] does not name are mounted too (read-write).
func planMounts(svc *service.Service, bound map[string]string, stateDir string) (mountPlan, error) {
	var p mountPlan
	seen := map[string]bool{}
	for _, st := range svc.Storage {
		if st.MountPath == "" || seen[st.MountPath] {
			continue
		}
		seen[st.MountPath] = true
		host, ok := bound[st.MountPath]
		if m, isEmptyDir := emptyDirMount(st); isEmptyDir && !ok {
			p.mounts = append(p.mounts, m)
			continue
		}
		if !ok {
			if p.tmpDir == "" {
				dir, err := os.MkdirTemp(stateDir, svc.Metadata.Name+"-mounts-")
				if err != nil {
					return p, fmt.Errorf("cannot create a directory for unbound storage mounts: %w", err)
				}
				p.tmpDir = dir
			}
			host = filepath.Join(p.tmpDir, strings.Trim(strings.ReplaceAll(st.MountPath, "/", "_"), "_"))
			if err := os.MkdirAll(host, 0o755); err != nil {
				return p, fmt.Errorf("cannot create an empty directory for %s: %w", st.MountPath, err)
			}
			p.unbound = append(p.unbound, st.MountPath)
		}
		ro := st.ReadOnly
		// --mount's HOST_DIR:ro / :rw overrides the entry's readOnly.
		if i := strings.LastIndex(host, ":"); i > 0 && (host[i+1:] == "ro" || host[i+1:] == "rw") {
			host, ro = host[:i], host[i+1:] == "ro"
		}
		p.mounts = append(p.mounts, runtime.Mount{HostPath: host, ContainerPath: st.MountPath, ReadOnly: ro})
	}
	var extra []string
	for path := range bound {
		if !seen[path] {
			extra = append(extra, path)
		}
	}
	sort.Strings(extra)
	for _, path := range extra {
		p.mounts = append(p.mounts, runtime.Mount{HostPath: bound[path], ContainerPath: path})
	}
	return p, nil
}

// emptyDirMount is storage[].empty_dir: memory (tmpfs of size_limit GB)
// or a fresh directory of each instance, which the runtime creates in
// the pod and removes with it.
func emptyDirMount(st service.Storage) (runtime.Mount, bool) {
	e := st.EmptyDir
	if e == nil {
		return runtime.Mount{}, false
	}
	m := runtime.Mount{ContainerPath: st.MountPath, ReadOnly: st.ReadOnly, Kind: runtime.EmptyDirMount}
	if strings.EqualFold(e.Medium, "memory") {
		m.Kind, m.Size = runtime.TmpfsMount, int64(e.SizeLimit)<<30
	}
	return m, true
}

// containerConfig builds the runtime config of containers[i] of instance
// of revision rev.
func (s *Scheduler) containerConfig(rev *revision, instance string, i int) (runtime.ContainerConfig, error) {
	sc := &rev.svc.Containers[i]
	name := containerName(i)
	args, err := commandArgs(sc)
	if err != nil {
		return runtime.ContainerConfig{}, fmt.Errorf("containers[%d]: %w", i, err)
	}
	env := make([]string, 0, len(sc.Env)+3)
	for _, e := range sc.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	// What EAS itself sets in every instance.
	env = append(env,
		"LISTENING_PORT="+strconv.Itoa(sc.Port),
		"POD_NAME="+instance,
		"NAMESPACE="+rev.svc.Metadata.Name,
	)
	cfg := runtime.ContainerConfig{
		Name:   name,
		Image:  sc.Image,
		Args:   args,
		Env:    env,
		CPU:    rev.svc.Metadata.CPU,
		Memory: rev.svc.Metadata.Memory,
		// metadata.shm_size is in GB.
		ShmSize: int64(rev.svc.Metadata.ShmSize) << 30,
		Mounts:  append([]runtime.Mount(nil), rev.mounts.mounts...),
	}
	if s.opts.Output != nil {
		cfg.Output = s.opts.Output(instance, name)
	}
	ref := events.Ref{Instance: instance, Container: name}
	cfg.OnLogDrop = func(d runtime.LogDrop) {
		where := "its log file " + d.Path
		if d.Live {
			where = "the live output (the log file has it)"
		}
		s.events.Eventf(ref, events.Warning, events.LogDropped, "output was lost from %s: %v", where, d.Err)
	}
	return cfg, nil
}
