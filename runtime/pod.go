package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
)

// podRecord is written to <StateDir>/pods/<service>/<instance>/pod.json
// before anything of the pod exists and removed after everything is gone,
// so Cleanup finds the pieces of a pod whose easlocal was killed midway.
type podRecord struct {
	Service  string     `json:"service"`
	Instance string     `json:"instance"`
	NetNS    string     `json:"netns"`
	CNIID    string     `json:"cni_id"`
	IP       netip.Addr `json:"ip,omitzero"`
}

func (r *Runtime) podPath(service, instance string) string {
	return filepath.Join(r.cfg.podDir(), service, instance)
}

// CreatePod creates the instance's network namespace
// (NetNSDir/easlocal-<service>-<instance>) and attaches it to easlocal's
// bridge, which leases it an IP. It fails if the instance already exists:
// Cleanup removes leftovers of an earlier run.
func (r *Runtime) CreatePod(ctx context.Context, cfg PodConfig) (_ *Pod, err error) {
	if err := checkService(cfg.Service); err != nil {
		return nil, err
	}
	if err := checkName("instance", cfg.Instance); err != nil {
		return nil, err
	}
	// Nothing is touched once the caller gave up (Ctrl-C during a large
	// scale-up): each step below checks ctx first.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create instance %s: %w", cfg.Instance, err)
	}
	name := NetNSName(cfg.Service, cfg.Instance)
	rec := podRecord{Service: cfg.Service, Instance: cfg.Instance, NetNS: filepath.Join(NetNSDir, name), CNIID: name}
	dir := r.podPath(cfg.Service, cfg.Instance)
	if _, err := os.Stat(filepath.Join(dir, "pod.json")); err == nil {
		return nil, fmt.Errorf("instance %s of service %s already exists (left by an earlier run?): run `easlocal down %s` to remove it", cfg.Instance, cfg.Service, cfg.Service)
	}
	if err := privateDir(r.cfg.podDir(), dir); err != nil {
		return nil, fmt.Errorf("create pod directory: %w", err)
	}
	// A new pod starts new logs: `easlocal logs` shows this run, and the
	// previous run's output (a crash to look into) is kept as .log.prev.
	if err := rotateLogs(filepath.Dir(r.cfg.LogPath(cfg.Service, cfg.Instance, "x"))); err != nil {
		r.log.Warn().Err(err).Str("instance", cfg.Instance).Msg("cannot rotate the logs of an earlier run; they will be appended to")
	}
	if err := writeRecord(dir, rec); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			r.teardownPod(ctx, rec)
			err = asCancelled(ctx, err)
		}
	}()

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create instance %s: %w", cfg.Instance, err)
	}
	if err := createNetNS(rec.NetNS); err != nil {
		return nil, fmt.Errorf("instance %s: %w", cfg.Instance, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create instance %s: %w", cfg.Instance, err)
	}
	res, err := r.cniSetup(nsCtx(ctx), rec.CNIID, rec.NetNS)
	if err != nil {
		return nil, fmt.Errorf("instance %s: attach network (CNI bridge %s, subnet %s): %w", cfg.Instance, r.cfg.Bridge, r.cfg.Subnet, err)
	}
	ip, err := podIP(res)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", cfg.Instance, err)
	}
	rec.IP = ip
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create instance %s: %w", cfg.Instance, err)
	}
	if err := writeRecord(dir, rec); err != nil {
		return nil, err
	}
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n", ip, cfg.Instance)
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644); err != nil {
		return nil, fmt.Errorf("write hosts file: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hostname"), []byte(cfg.Instance+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("write hostname file: %w", err)
	}
	r.log.Debug().Str("service", cfg.Service).Str("instance", cfg.Instance).Stringer("ip", ip).Msg("pod created")
	return &Pod{Service: cfg.Service, Instance: cfg.Instance, IP: ip, NetNS: rec.NetNS}, nil
}

// RemovePod removes the pod's containers, detaches it from the network
// (releasing its IP) and removes its network namespace. Logs stay.
// Idempotent.
func (r *Runtime) RemovePod(ctx context.Context, pod *Pod) error {
	if pod == nil {
		return nil
	}
	var errs []error
	errs = append(errs, r.removeContainers(ctx, pod.Service, pod.Instance))
	rec := podRecord{Service: pod.Service, Instance: pod.Instance, NetNS: pod.NetNS, CNIID: NetNSName(pod.Service, pod.Instance)}
	if rec.NetNS == "" {
		rec.NetNS = filepath.Join(NetNSDir, rec.CNIID)
	}
	errs = append(errs, r.teardownPod(ctx, rec))
	// The service's FIFO directory goes with its last pod (Remove keeps a
	// directory other instances still use).
	_ = os.Remove(filepath.Join(r.cfg.fifoDir(), pod.Service))
	return errors.Join(errs...)
}

// teardownPod releases the IP, removes the namespace and then the record.
// The record stays when a step failed, so a later Cleanup retries.
func (r *Runtime) teardownPod(ctx context.Context, rec podRecord) error {
	ctx, cancel := cleanupCtx(ctx)
	defer cancel()
	nsPath := rec.NetNS
	if !isNetNS(nsPath) {
		// CNI DEL without a namespace still releases the lease. A plain
		// file there (easlocal killed between creating the file and
		// mounting the namespace on it) would fail the bridge plugin.
		nsPath = ""
	}
	var errs []error
	if nsPath != "" {
		// They would die with the namespace; removed first so that a
		// namespace that cannot be removed keeps no fault either.
		if err := removeNetFaults(ctx, nsPath); err != nil {
			r.log.Debug().Err(err).Str("instance", rec.Instance).Msg("cannot remove network faults before the namespace")
		}
	}
	if err := r.cniRemove(ctx, rec.CNIID, nsPath); err != nil {
		errs = append(errs, fmt.Errorf("instance %s: detach network: %w", rec.Instance, err))
	}
	// Pods of easlocal before lo was set up in-process also had go-cni's
	// loopback network, whose libcni result would stay behind.
	os.Remove(filepath.Join(libcni.CacheDir, "results", "cni-loopback-"+rec.CNIID+"-lo"))
	if err := removeNetNS(rec.NetNS); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(r.podPath(rec.Service, rec.Instance)); err != nil {
			errs = append(errs, err)
		}
		os.Remove(filepath.Join(r.cfg.podDir(), rec.Service)) // only if empty
	}
	return errors.Join(errs...)
}

func writeRecord(dir string, rec podRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "pod.json.tmp")
	if err := writePrivate(tmp, b); err != nil {
		return fmt.Errorf("write pod record: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, "pod.json"))
}

func readRecord(dir string) (podRecord, error) {
	var rec podRecord
	b, err := readSmall(filepath.Join(dir, "pod.json"), 64<<10)
	if err != nil {
		return rec, err
	}
	return rec, json.Unmarshal(b, &rec)
}

// asCancelled makes a step's error say (and errors.Is tell) that ctx was
// cancelled when that is why it failed: a CNI plugin killed mid-setup
// reports only its own words.
func asCancelled(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}
