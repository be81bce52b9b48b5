// Command app is easlocal's example service: a small static HTTP server
// whose behaviour can be steered over HTTP, for demos and for the
// end-to-end tests of the runtime, prober, scheduler and gateway. It is
// built into the image easlocal.local/example:latest as /app by
// examples/imagebuild/build (`make examples`). It is a module of its own
// so that `go install ./...` in the root module does not install it.
//
// Configuration (flags of `app serve` override the environment):
//
//	LISTENING_PORT  -port         port to listen on (default 8000)
//	POD_NAME        -name         instance name put in every answer
//	START_DELAY     -start-delay  /startup and /ready fail until this long after start
//	READY=false     -ready=false  start unready
//	LIVE=false      -live=false   start failing /health
//	STARTUP=false   -startup=false start failing /startup
//	PEER_URL        -peer         base URL /peer fetches (e.g. a sidecar on 127.0.0.1)
//	LOG_FORMAT=json               JSON log lines instead of text
//
// HTTP endpoints (the port opens at once; probes gate readiness):
//
//	GET  /health   liveness: 200, or 500 after /control/live?ok=false
//	GET  /ready    readiness: 200, or 503 while unready or still starting
//	GET  /startup  startup: 200, or 503 while still starting
//	     /stream?n=5&interval=100ms  server-sent events, flushed one by one
//	     /slow?delay=2s               answers after the delay
//	     /echo                        echoes the request body
//	     /big?kb=N                    N KiB of data
//	     /peer                        GETs PEER_URL/ and wraps its answer
//	GET  /ws                          WebSocket echo: each message back as sent (text or binary)
//	     any other path               200 with JSON naming the instance and
//	                                  echoing method, path, headers, X-Forwarded-For
//	POST /control/live?ok=false       switch liveness (ok=true switches back)
//	POST /control/ready?ok=false      switch readiness
//	POST /control/startup?ok=false    switch the startup probe
//	POST /control/hang[?on=false][&all=true]  probes (all=true: every
//	                                  non-control path) block until unhung
//	POST /control/crash?code=3        answer, then exit with the code
//	POST /control/alloc?mb=N          allocate and touch N MiB more (free=true releases)
//	GET  /control/state               every switch and the probe verdicts
//
// gRPC on the same port (HTTP/2 cleartext, which gRPC clients speak
// without TLS): grpc.health.v1.Health (SERVING while /ready passes, for
// "" and the example service) and easlocal.example.Example (package
// examples/grpcapi): unary Echo ("<instance>: <text>", trailer
// x-instance) and server-streaming Count (n messages, one every 10ms).
//
// Subcommands, so exec probes and runtime exec tests need no shell:
//
//	app [serve]              run the server (default)
//	app probe ready|live|startup  exit 0 when the server on
//	                         127.0.0.1:$LISTENING_PORT says so, 1 otherwise
//	                         (blocks while the server is hung, up to
//	                         -hang-limit, default 10s, then fails)
//	app get URL              print the body; exit 0 on 2xx/3xx
//	app sleep 5s             sleep (seconds or a Go duration)
//	app spew 5               print 5 MiB to stdout
//	app exit N               exit with status N
//	app env                  print the environment
//	app hostname             print the hostname
//
// SIGTERM or SIGINT is logged ("signal received, shutting down" with the
// signal) and shuts the server down within a second (in-flight requests
// are cut) and exit 0. Every request is logged as one line on
// stdout.
package main
