package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

const usage = `usage: app [serve [flags]] | probe ready|live|startup | get URL | sleep DURATION | spew MB | exit N | env | hostname`

// run dispatches the subcommand and returns the exit status.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCmd(args, stdout, stderr, getenv)
	case "probe":
		return probeCmd(args, stdout, stderr, getenv)
	case "get":
		return getCmd(args, stdout, stderr)
	case "sleep":
		if len(args) != 1 {
			break
		}
		d, err := parseDuration(args[0])
		if err != nil || d < 0 {
			fmt.Fprintf(stderr, "app sleep: %q is not a duration; use e.g. 5s or 5\n", args[0])
			return 2
		}
		time.Sleep(d)
		return 0
	case "spew":
		if len(args) != 1 {
			break
		}
		mb, err := strconv.Atoi(args[0])
		if err != nil || mb < 0 {
			fmt.Fprintf(stderr, "app spew: %q is not a number of MiB\n", args[0])
			return 2
		}
		return spew(stdout, mb)
	case "exit":
		if len(args) != 1 {
			break
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n > 255 {
			fmt.Fprintf(stderr, "app exit: %q is not an exit status (0-255)\n", args[0])
			return 2
		}
		return n
	case "env":
		env := os.Environ()
		slices.Sort(env)
		for _, e := range env {
			fmt.Fprintln(stdout, e)
		}
		return 0
	case "hostname":
		h, err := os.Hostname()
		if err != nil {
			fmt.Fprintf(stderr, "app hostname: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, h)
		return 0
	}
	fmt.Fprintln(stderr, usage)
	return 2
}

// spew writes mb MiB of text lines to w.
func spew(w io.Writer, mb int) int {
	line := strings.Repeat("spew ", 204) + "spe\n" // 1024 bytes
	chunk := []byte(strings.Repeat(line, 64))      // 64 KiB
	for range mb * 16 {
		if _, err := w.Write(chunk); err != nil {
			return 1
		}
	}
	return 0
}

func envBool(getenv func(string) string, name string, def bool) (bool, error) {
	return parseBool(name, getenv(name), def)
}

func envPort(getenv func(string) string) (int, error) {
	v := getenv("LISTENING_PORT")
	if v == "" {
		return 8000, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("LISTENING_PORT=%q is not a port number (1-65535)", v)
	}
	return p, nil
}

// parseConfig reads the environment, then flags, which win.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var cfg config
	var err error
	var errs []error
	if cfg.Port, err = envPort(getenv); err != nil {
		errs = append(errs, err)
	}
	if v := getenv("START_DELAY"); v != "" {
		if cfg.StartDelay, err = parseDuration(v); err != nil || cfg.StartDelay < 0 {
			errs = append(errs, fmt.Errorf("START_DELAY=%q is not a duration; use e.g. 5s", v))
		}
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"LIVE", &cfg.Live}, {"READY", &cfg.Ready}, {"STARTUP", &cfg.Startup}} {
		if *b.dst, err = envBool(getenv, b.name, true); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.LogProbes, err = envBool(getenv, "LOG_PROBES", false); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	cfg.Name = getenv("POD_NAME")
	cfg.PeerURL = getenv("PEER_URL")

	fs := flag.NewFlagSet("app serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Port, "port", cfg.Port, "port to listen on (LISTENING_PORT)")
	fs.StringVar(&cfg.Name, "name", cfg.Name, "instance name in answers (POD_NAME)")
	fs.DurationVar(&cfg.StartDelay, "start-delay", cfg.StartDelay, "/startup and /ready fail until this long after start (START_DELAY)")
	fs.BoolVar(&cfg.Live, "live", cfg.Live, "start live (LIVE)")
	fs.BoolVar(&cfg.Ready, "ready", cfg.Ready, "start ready (READY)")
	fs.BoolVar(&cfg.Startup, "startup", cfg.Startup, "start with /startup passing once the delay is over (STARTUP)")
	fs.StringVar(&cfg.PeerURL, "peer", cfg.PeerURL, "base URL /peer fetches (PEER_URL)")
	fs.BoolVar(&cfg.LogProbes, "log-probes", cfg.LogProbes, "log successful probe requests too (LOG_PROBES)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	return cfg, nil
}

func serveCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "app serve: %v\n", err)
		return 2
	}
	var log zerolog.Logger
	if getenv("LOG_FORMAT") == "json" {
		log = zerolog.New(stdout).With().Timestamp().Str("instance", cfg.Name).Logger()
	} else {
		log = zerolog.New(zerolog.ConsoleWriter{Out: stdout, NoColor: true, TimeFormat: time.RFC3339Nano}).With().Timestamp().Logger()
	}
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port))
	if err != nil {
		fmt.Fprintf(stderr, "app serve: cannot listen on port %d: %v\n", cfg.Port, err)
		return 1
	}
	// Each signal is logged, so tests can tell whether one was sent.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var stopped time.Time // written before stop(), read after serve returns
	go func() {
		select {
		case sig := <-sigs:
			stopped = time.Now()
			log.Info().Str("signal", sig.String()).Msg("signal received, shutting down")
			stop()
		case <-ctx.Done():
		}
	}()
	s := newServer(cfg, log, time.Now, os.Exit)
	log.Info().Str("addr", ln.Addr().String()).Str("instance", cfg.Name).Str("start_delay", cfg.StartDelay.String()).
		Bool("live", cfg.Live).Bool("ready", cfg.Ready).Msg("listening")
	if err := serve(ctx, s, ln); err != nil {
		log.Error().Err(err).Msg("server failed")
		return 1
	}
	log.Info().Str("took", time.Since(stopped).Round(time.Millisecond).String()).Msg("shut down")
	return 0
}

// shutdownGrace bounds the graceful shutdown: SIGTERM to exit within a second.
const shutdownGrace = 800 * time.Millisecond

// serve answers on ln until ctx is done, then shuts down: in-flight
// handlers see their request context cancelled (streams, slow answers and
// hung probes end at once), and whatever is left after shutdownGrace is
// closed.
func serve(ctx context.Context, s *server, ln net.Listener) error {
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // gRPC clients speak h2c with prior knowledge
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		Protocols:         &protocols,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// probeCmd asks the server in this instance (the containers share the
// network namespace) for its state and exits 0 when the probe passes.
func probeCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("app probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port, err := envPort(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "app probe: %v\n", err)
		return 2
	}
	fs.IntVar(&port, "port", port, "port of the server (LISTENING_PORT)")
	hangLimit := fs.Duration("hang-limit", 10*time.Second, "while the server is hung, wait this long before failing")
	if !parseOne(fs, args, stderr, "usage: app probe [-port N] ready|live|startup") {
		return 2
	}
	if _, known := (state{}).verdict(fs.Arg(0)); !known {
		fmt.Fprintf(stderr, "app probe: unknown probe %q; use ready, live or startup\n", fs.Arg(0))
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *hangLimit)
	defer cancel()
	return probe(ctx, fmt.Sprintf("http://127.0.0.1:%d", port), fs.Arg(0), stdout, stderr)
}

// probe is the logic of `app probe`. A hung server makes it block until
// ctx ends, so an exec probe times out just as an http_get probe would.
func probe(ctx context.Context, baseURL, kind string, stdout, stderr io.Writer) int {
	st, err := fetchState(ctx, baseURL)
	if err != nil {
		fmt.Fprintf(stderr, "probe %s: %v\n", kind, err)
		return 1
	}
	if st.Hung {
		<-ctx.Done()
		fmt.Fprintf(stderr, "probe %s: server is hung\n", kind)
		return 1
	}
	ok, _ := st.verdict(kind)
	if !ok {
		fmt.Fprintf(stderr, "probe %s: failing (live=%t ready=%t startup=%t started=%t)\n", kind, st.Live, st.Ready, st.Startup, st.Started)
		return 1
	}
	fmt.Fprintf(stdout, "probe %s: ok\n", kind)
	return 0
}

func fetchState(ctx context.Context, baseURL string) (state, error) {
	var st state
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/control/state", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s answered %s", req.URL, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("reading %s: %w", req.URL, err)
	}
	return st, nil
}

// getCmd is a tiny curl: it prints the body and exits 0 on 2xx/3xx.
// parseOne parses a subcommand's args, which must leave one operand;
// it prints usage to stderr when they do not (flag errors are printed by
// fs).
func parseOne(fs *flag.FlagSet, args []string, stderr io.Writer, usage string) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, usage)
		return false
	}
	return true
}

func getCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("app get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if !parseOne(fs, args, stderr, "usage: app get [-timeout 5s] URL") {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fs.Arg(0), nil)
	if err != nil {
		fmt.Fprintf(stderr, "app get: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "app get: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		fmt.Fprintf(stderr, "app get: reading the body: %v\n", err)
		return 1
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		fmt.Fprintf(stderr, "app get: %s\n", resp.Status)
		return 1
	}
	return 0
}
