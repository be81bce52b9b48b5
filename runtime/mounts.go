package runtime

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// MountKind says what backs a Mount.
type MountKind int

const (
	// BindMount binds HostPath (an empty directory of the container when
	// HostPath is "").
	BindMount MountKind = iota
	// EmptyDirMount is a fresh directory of the pod, shared by its
	// containers and removed with the pod (storage[].empty_dir).
	EmptyDirMount
	// TmpfsMount is memory of Size bytes (0: the kernel's default, half
	// the RAM); its pages count against the container's memory limit.
	TmpfsMount
)

// shmPath is where the image expects shared memory.
const shmPath = "/dev/shm"

// storageMounts turns cfg.Mounts and cfg.ShmSize into OCI mounts.
func (r *Runtime) storageMounts(podDir string, cfg ContainerConfig) ([]specs.Mount, error) {
	var out []specs.Mount
	shm := false
	for i, m := range cfg.Mounts {
		if !filepath.IsAbs(m.ContainerPath) {
			return nil, fmt.Errorf("mount %d: container path %q must be absolute", i, m.ContainerPath)
		}
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		switch m.Kind {
		case TmpfsMount:
			if m.Size < 0 {
				return nil, fmt.Errorf("mount %s: tmpfs size %d is negative", m.ContainerPath, m.Size)
			}
			out = append(out, tmpfs(m.ContainerPath, m.Size, mode))
			shm = shm || path.Clean(m.ContainerPath) == shmPath
			continue
		case EmptyDirMount:
			// One directory per pod and mount path: the containers of an
			// instance share it, and RemovePod removes it.
			src := filepath.Join(podDir, "volumes", url.PathEscape(strings.TrimPrefix(path.Clean(m.ContainerPath), "/")))
			if err := os.MkdirAll(src, 0o755); err != nil {
				return nil, fmt.Errorf("mount %s: %w", m.ContainerPath, err)
			}
			out = append(out, specs.Mount{Type: "bind", Source: src, Destination: m.ContainerPath, Options: []string{"rbind", mode}})
			continue
		}
		src := m.HostPath
		if src == "" {
			// Unbound storage gets an empty directory of the pod.
			src = filepath.Join(podDir, "empty", cfg.Name, strconv.Itoa(i))
			if err := os.MkdirAll(src, 0o755); err != nil {
				return nil, fmt.Errorf("mount %s: %w", m.ContainerPath, err)
			}
		} else if _, err := os.Stat(src); err != nil {
			return nil, fmt.Errorf("mount %s: host path %s: %w", m.ContainerPath, src, err)
		}
		out = append(out, specs.Mount{Type: "bind", Source: src, Destination: m.ContainerPath, Options: []string{"rbind", mode}})
	}
	if cfg.ShmSize < 0 {
		return nil, fmt.Errorf("shm size %d is negative", cfg.ShmSize)
	}
	if cfg.ShmSize > 0 && !shm {
		out = append(out, tmpfs(shmPath, cfg.ShmSize, "rw"))
	}
	return out, nil
}

func tmpfs(dest string, size int64, mode string) specs.Mount {
	opts := []string{"nosuid", "nodev", "mode=1777", mode}
	if size > 0 {
		opts = append(opts, "size="+strconv.FormatInt(size, 10))
	}
	return specs.Mount{Type: "tmpfs", Source: "tmpfs", Destination: dest, Options: opts}
}

// withMounts adds mounts to the spec, replacing a default mount at the
// same destination (containerd's 64 MB /dev/shm) rather than stacking on
// it.
func withMounts(mounts []specs.Mount) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		for _, m := range mounts {
			kept := s.Mounts[:0]
			for _, old := range s.Mounts {
				if path.Clean(old.Destination) != path.Clean(m.Destination) {
					kept = append(kept, old)
				}
			}
			s.Mounts = append(kept, m)
		}
		return nil
	}
}
