package service

import (
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// WriteSummary writes what easlocal will run, with every default filled
// in: the service line, then one block per container with its image,
// command, port, env names and each probe's effective timing.
func WriteSummary(w io.Writer, s *Service) {
	m := s.Metadata
	instances := plural(m.Instance, "instance", "instances")
	if m.Instance == 0 {
		instances = "0 instances (stopped)"
	}
	limits := "no CPU or memory limit"
	if m.CPU > 0 || m.Memory > 0 {
		var parts []string
		if m.CPU > 0 {
			parts = append(parts, plural(m.CPU, "core", "cores"))
		}
		if m.Memory > 0 {
			parts = append(parts, fmt.Sprintf("%d MB memory", m.Memory))
		}
		limits = strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "service %s: %s, %s\n", m.Name, instances, limits)
	grace := m.GracePeriod()
	if m.RPC != nil && m.RPC.EnableSigterm {
		fmt.Fprintf(w, "  stopping: out of the endpoints, SIGTERM at once, SIGKILL after %s if still running\n", grace)
	} else {
		fmt.Fprintf(w, "  stopping: out of the endpoints, no SIGTERM (rpc.enable_sigterm is false), SIGKILL after %s\n", grace)
	}
	if s.Runtime != nil && s.Runtime.EnableCrashBlock {
		fmt.Fprintf(w, "  crashes: a crashed instance is not restarted (runtime.enable_crash_block); it stays for inspection\n")
	}
	if _, known := serviceTypes[m.Type]; known {
		fmt.Fprintf(w, "  type: %s on EAS; served here as a Standard service: synchronously, without a queue\n", m.Type)
	}
	if m.RPC != nil && m.RPC.Keepalive > 0 {
		fmt.Fprintf(w, "  gateway: requests time out after %dms (408)\n", m.RPC.Keepalive)
	}
	if s.Token != "" {
		fmt.Fprintf(w, "  gateway: requires the token of service.json (--token overrides it)\n")
	}
	if m.ShmSize > 0 && !s.storageAt("/dev/shm") {
		fmt.Fprintf(w, "  /dev/shm: tmpfs of %d GB (metadata.shm_size)\n", m.ShmSize)
	}
	for i := range s.Containers {
		c := &s.Containers[i]
		fmt.Fprintf(w, "container %d: %s\n", i, c.Image)
		row := func(label, value string) { fmt.Fprintf(w, "  %-10s %s\n", label+":", value) }
		args, err := c.Args()
		switch {
		case err != nil:
			row("command", err.Error())
		case c.Script != "":
			row("script", strconv.Quote(c.Script)+" (run by /bin/sh -c)")
		case args == nil:
			row("command", "the image's entrypoint and cmd")
		default:
			row("command", quoteJSONWords(args)+" (no shell)")
		}
		row("port", strconv.Itoa(c.Port))
		if len(c.Env) > 0 {
			names := make([]string, len(c.Env))
			for j, e := range c.Env {
				names[j] = e.Name
			}
			row("env", strings.Join(names, ", "))
		}
		for _, kind := range ProbeKinds {
			p := c.Probe(kind)
			switch {
			case p != nil:
				row(string(kind), p.Describe(kind))
			case kind == Readiness:
				row(string(kind), "none: ready as soon as the container runs")
			case kind == Liveness:
				row(string(kind), "none: restarted only when it exits")
			default:
				row(string(kind), "none")
			}
		}
	}
	for _, st := range s.Storage {
		if e := st.EmptyDir; e != nil {
			size := "no size limit"
			if e.SizeLimit > 0 {
				size = fmt.Sprintf("%d GB", e.SizeLimit)
			}
			if strings.EqualFold(e.Medium, "memory") {
				if e.SizeLimit == 0 {
					size = "the kernel's default size, half the RAM"
				}
				fmt.Fprintf(w, "storage %s: memory (tmpfs of %s), fresh for each instance\n", st.MountPath, size)
			} else {
				fmt.Fprintf(w, "storage %s: an empty directory on disk, fresh for each instance and removed with it (%s)\n", st.MountPath, size)
			}
			continue
		}
		source := "an empty directory"
		switch {
		case st.OSS != nil:
			source = "OSS on EAS"
		case st.NFS != nil:
			source = "NAS/NFS on EAS"
		case st.Git != nil:
			source = "Git on EAS"
		case st.Image != nil:
			source = "an image on EAS"
		case st.Dataset != nil:
			source = "a dataset on EAS"
		}
		fmt.Fprintf(w, "storage %s: %s; locally an empty directory unless bound with --mount %s=HOST_DIR\n", st.MountPath, source, st.MountPath)
	}
}

// storageAt reports whether a storage[] entry mounts at p.
func (s *Service) storageAt(p string) bool {
	for _, st := range s.Storage {
		if path.Clean(st.MountPath) == p {
			return true
		}
	}
	return false
}
