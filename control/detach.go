package control

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/dashboard"
	"github.com/easlocal/easlocal/service"
)

// DetachOptions is what `up -d` needs to start easlocal in the background.
type DetachOptions struct {
	File string // the service.json, checked before anything starts
	// Self and Args run the background copy: a program (default: this
	// one) and its arguments, passed as given (a flag value "-d"
	// survives) but for --token; EnvDetached in its environment tells it
	// that it is the copy.
	Self string
	Args []string
	// Token is --token as given, nil if it was not. The copy lives as
	// long as the service, and anyone on the machine can read a command
	// line (/proc/PID/cmdline): the token goes through its environment
	// (owner only) instead.
	Token *string
	// LogDir receives the copy's output, up-<service>.log.
	LogDir      string
	Registry    admin.Registry
	WaitTimeout time.Duration
	Out, Err    io.Writer
}

// Detach starts the background copy (own session, output to a log file)
// and waits until every instance is ready, the copy ends, ctx is done
// (Ctrl-C) or WaitTimeout passes; in the last two cases the service is
// stopped and the error says which instance is stuck and why.
func Detach(ctx context.Context, o DetachOptions) error {
	// Refuse before starting anything, so a second `up -d` of a running
	// service neither starts a process nor touches the first one's output.
	svc, warnings, err := service.Load(o.File)
	for _, w := range warnings {
		fmt.Fprintf(o.Err, "warning: %s\n", w)
	}
	if err != nil {
		return err
	}
	name := svc.Metadata.Name
	// The service's lock is taken here and handed to the background copy,
	// which holds it for the service's life: a second `up` fails here,
	// before it opens (and truncates) the output file.
	lock, err := o.Registry.TryLock(name, admin.LockUp)
	if err != nil {
		return err
	}
	defer lock.Release() // the copy keeps its own hold
	logPath := filepath.Join(o.LogDir, "up-"+name+".log")
	lf, err := openPrivate(o.LogDir, logPath)
	if err != nil {
		return err
	}
	defer lf.Close()
	self, args, env := o.Self, WithoutFlag(o.Args, "token"), []string{EnvDetached + "=1"}
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return err
		}
	}
	if o.Token != nil {
		env = append(env, "EASLOCAL_TOKEN="+*o.Token)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(append(os.Environ(), env...), EnvLockFD+"=3")
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.ExtraFiles = []*os.File{lock.File()} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start easlocal in the background: %w", err)
	}
	_ = lock.SetHolder(cmd.Process.Pid, admin.LockUp)
	lock.Release()
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()

	// waitCtx ends at the timeout, on Ctrl-C or when the copy exits.
	waitCtx, cancel := context.WithTimeout(ctx, o.WaitTimeout)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-waitCtx.Done():
		}
	}()
	d, err := admin.WaitRegistered(waitCtx, o.Registry, cmd.Process.Pid, 200*time.Millisecond)
	var st admin.ServiceStatus
	if err == nil {
		st, err = d.WaitReady(waitCtx)
	}
	if err != nil {
		select {
		case <-exited:
			return fmt.Errorf("easlocal up stopped before the service was ready (%v); its output:\n%s", exitErr, tail(logPath, 4096))
		default:
		}
		report := err
		if d == nil {
			report = &admin.NotReadyError{Cause: err}
		}
		if d != nil {
			_, _ = d.RequestDown(context.Background())
		} else {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-exited:
		case <-time.After(2 * time.Minute):
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted before the service was ready, so it was stopped; its output: %s", logPath)
		}
		return fmt.Errorf("the service was not ready after %s, so it was stopped: %v\nfull output: %s", o.WaitTimeout, report, logPath)
	}
	e := d.Entry
	fmt.Fprintf(o.Out, "service %s is ready: %d instance(s), gateway %s%s%s/\n", st.Name, len(st.Instances), e.GatewayURL, "/api/predict/", st.Name)
	fmt.Fprintf(o.Out, "dashboard: %s\n", dashboard.URL(e.AdminURL, e.AdminToken))
	fmt.Fprintf(o.Out, "running in the background as pid %d (output: %s); stop it with `easlocal down %s`\n", cmd.Process.Pid, logPath, st.Name)
	if rep, err := d.Advice(ctx); err == nil {
		for _, a := range rep.Risks() {
			fmt.Fprintf(o.Out, "advice: %s (easlocal advise %s)\n", admin.FormatAdvice(a), st.Name)
		}
	}
	return nil
}

// EnvDetached marks the background copy of `up -d`.
const EnvDetached = "EASLOCAL_DETACHED_CHILD"

// EnvLockFD names the descriptor through which the background copy of
// `up -d` receives the service's lock (see admin.Registry.AdoptLock).
const EnvLockFD = "EASLOCAL_LOCK_FD"

// openPrivate opens path for writing, truncated, with mode 0600 in a
// directory of mode 0700, whatever their modes were: the output holds
// the dashboard token and container output. It does not follow a
// symbolic link at path.
func openPrivate(dir, path string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// tail returns at most the last n bytes of a file.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// InheritedLock is, in the background copy, the service's lock the `up
// -d` that started it took and passed down as descriptor 3 (EnvLockFD).
func InheritedLock() (*os.File, error) {
	v := os.Getenv(EnvLockFD)
	os.Unsetenv(EnvLockFD) // not for what this process starts
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("easlocal was started as the background copy of `up -d` without the service's lock (%s=%q); run `easlocal up -d` instead", EnvLockFD, v)
	}
	return os.NewFile(uintptr(fd), "service lock"), nil
}

// WithoutFlag returns args without flag name and its value (-name V,
// --name V, -name=V, --name=V), up to a "--": the background copy's
// command line, which anyone on the machine can read, without the token.
func WithoutFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		bare := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		switch {
		case bare == a:
		case bare == name:
			i++ // and its value
			continue
		case strings.HasPrefix(bare, name+"="):
			continue
		}
		out = append(out, a)
	}
	return out
}
