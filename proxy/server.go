package proxy

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Server serves one handler on listeners with limits that keep hostile
// clients from holding resources: headers within 10 s and 1 MiB, idle
// keep-alive connections closed after 2 min. There is no
// read or write timeout for a whole request: bodies and answers may
// stream for as long as they make progress (the gateway bounds the gaps
// between reads of a body itself, see Options.BodyTimeout). The gateway, the sidecars and the control API share it.
type Server struct {
	hs *http.Server
}

// NewServer returns a Server for h. net/http's own error log goes to
// logger at warn level.
func NewServer(h http.Handler, logger zerolog.Logger) *Server {
	return &Server{hs: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          log.New(logWriter{logger}, "", 0),
	}}
}

// Serve accepts connections on ln until Shutdown or Close (it then
// returns nil) or until ln fails.
func (s *Server) Serve(ln net.Listener) error {
	err := s.hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, lets requests in flight finish until ctx is
// done and then closes every connection.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.hs.Shutdown(ctx); err != nil {
		return errors.Join(err, s.hs.Close())
	}
	return nil
}

// Close closes the listeners and every connection now.
func (s *Server) Close() error { return s.hs.Close() }

// Serve serves h on ln until ctx is done, then shuts down gracefully
// (requests in flight get grace to finish; then connections are closed).
// It returns nil after a shutdown caused by ctx.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger zerolog.Logger, grace time.Duration) error {
	srv := NewServer(h, logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	_ = srv.Shutdown(sctx) // a grace that ran out closed the rest
	return <-errc
}

type logWriter struct{ l zerolog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Warn().Str("component", "http").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
