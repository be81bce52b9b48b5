// Package proxy owns easlocal's EAS-style gateway: the HTTP front door of a
// service, its per-instance direct-mode sidecars and the discovery URLs
// the EAS SDKs poll.
//
// # Wiring (what cmd/easlocal does)
//
//	set := endpoints.New()                  // the scheduler Sets/Removes instances
//	opts := proxy.Options{
//		Service:   svc.Metadata.Name,
//		Token:     token,                     // "" = no auth
//		ControlToken: adminToken,             // never forwarded to an instance
//		Keepalive: time.Duration(keepaliveMS) * time.Millisecond,
//		NoRetry:   noRetry,
//		Endpoints: set,
//		Logger:    log,
//		Observe:   m.ObserveUpstream,         // optional: per attempt (metrics)
//		RateLimit: rpc.RateLimit,             // limits, see Limits; 0 = off
//		WorkerThreads: rpc.WorkerThreads, MaxQueueSize: rpc.MaxQueueSize,
//		GatewayRateLimit: policyRate, ConcurrencyLimit: policyConcurrency,
//		CountLimit: m.CountLimit,             // optional: per refusal (metrics)
//		OnLimit:    func(kind string) {...},  // optional: first refusal (an event)
//		EnableGRPC: svc.Metadata.EnableGRPC,  // then serve WithH2C()
//	}
//	sc, err := proxy.NewSidecars(opts)      // one 127.0.0.1:<port> per ready instance
//	defer sc.Close()
//	opts.Discovery = proxy.NewDiscovery(opts.Service, sc)
//	gw := proxy.New(opts)                   // http.Handler: /api/predict/... + discovery
//	ln, err := net.Listen("tcp", listenAddr)
//	fmt.Printf("gateway: http://%s/api/predict/%s/\n", ln.Addr(), opts.Service)
//	err = proxy.Serve(ctx, ln, gw, log, 5*time.Second, proxy.WithH2C()) // returns after ctx is done; WithH2C only with EnableGRPC
//	gw.Close()                              // WebSockets and idle connections
//
// # Gateway (Gateway, New)
//
// /api/predict/<service>/<path>?<query> goes to /<path>?<query> on the
// next ready endpoint (/api/predict/<service> goes to /), in round-robin
// order over the set's current snapshot (an atomic counter; no lock on the
// request path). The gateway itself answers:
//   - 404 with a hint for paths outside /api/predict/ (unless Discovery
//     serves them) and for another service's name;
//   - 401 for a missing or wrong token (see Tokens);
//   - 503 "no healthy upstream" when no instance is ready (Envoy's text);
//   - 408 when Keepalive (metadata.rpc.keepalive) passes before the
//     instance's answer (its status and headers) arrives; a streamed answer
//     that started in time is not cut; also 408 when the client stops
//     sending its request body (see Body timeout);
//   - 429, 450 and 408 from the limits (see Limits);
//   - 502 when the instance fails after the request was sent (the answer
//     is aborted if it had already started), or when the head of its
//     answer (with any 1xx interim answers) exceeds MaxAnswerHead (1 MiB,
//     the bound on a client's request head; the connection to the
//     instance is closed); 499 is logged, never sent, when the client
//     hangs up. A half-close after pipelined requests is not a hang-up:
//     every one of them is answered, the last one too.
//
// Retry: a request that could not be delivered at all (the connection to
// the instance could not be made: refused, unreachable) is retried on the
// next endpoints, each at most once, as nginx's proxy_next_upstream error;
// NoRetry turns that off. Once a request was written it is never sent to
// another instance. A pooled keep-alive connection the instance had
// closed while idle is replaced by a new connection to the same instance
// (for replayable requests), or checked before use (bodies that stream).
//
// Pass-through: bodies stream both ways. Answers without a length (chunked,
// server-sent events) are flushed after every read; event streams get their
// headers at once. Hop-by-hop headers (and those named in Connection) are
// dropped, the client's Host is kept, status codes are relayed. WebSocket
// upgrades are relayed (see WebSocket); other upgrades (h2c) are not: the
// request goes on without its Upgrade header.
//
// # Limits (admission.go)
//
// As EAS answers them, in this order after the token check:
//   - networking.gateway_policy.rate_limit (GatewayRateLimit, requests a
//     second for the service): 429;
//   - networking.gateway_policy.concurrency_limit (ConcurrencyLimit,
//     requests in flight through the gateway): 429;
//   - then the instance is picked (round robin) and its
//     metadata.rpc.rate_limit (RateLimit, requests a second per
//     instance) applies: 429;
//   - its queue, when WorkerThreads or MaxQueueSize is set: at most
//     WorkerThreads (default 5) requests in flight to the instance, at
//     most MaxQueueSize (default 64) waiting, first come first served; a
//     request that finds the queue full gets 450, one that waits past
//     Keepalive gets 408 (keepalive counts the wait; what is left of it
//     bounds the instance's answer).
//
// The rates are token buckets holding one second's worth (burst = the
// rate, at least 1): over T seconds at most rate×(T+1) requests pass, and
// a client sending at the rate is never refused. The service-wide limits
// are the gateway's only (direct mode bypasses EAS's gateway too); the
// per-instance rate and queue hold for the sidecars as well, shared by
// all of them but separate from the gateway's (EAS keeps them in the
// instance; here each front door counts its own). A request retried on
// another instance after a failed connection keeps the first one's queue
// slot. EAS documents the rpc limits for processors; whether it applies
// them to custom images is unknown: newLimits decides which apply.
//
// Every refusal calls Options.CountLimit (the metrics counter
// easlocal_gateway_limited_total{limit}); the first, and the first after
// a minute without one, calls Options.OnLimit (an event), per kind
// (Limit* constants). An open WebSocket counts as in flight for its
// instance (Gateway.InFlight) and holds a queue slot, as a worker of a
// processor would be held.
//
// # WebSocket (tunnel.go)
//
// GET with Upgrade: websocket goes, token checked and limits applied, to
// one ready instance on a connection of its own. When the instance
// answers 101 the client's connection is taken over (net/http Hijack) and
// relay copies bytes both ways until either side closes; a side that
// closes cleanly has it passed on as a half-close and the other gets 5 s
// to finish (the closing handshake). Each write gets the send timeout, so
// a side that stops reading is cut off (the other side's connection is
// closed too); idle tunnels are not cut. Any other answer is relayed as
// for a request. The server's shutdown does not see taken-over
// connections: Gateway.Close closes them, CloseTunnels(instance) those of
// one instance (for its termination, after the grace period); a sidecar
// that stops gives its tunnels what is left of SidecarGrace.
//
// # gRPC (grpc.go)
//
// With EnableGRPC the server must speak HTTP/2 cleartext as well
// (WithH2C; net/http's own h2c, prior knowledge, as gRPC clients use it
// without TLS; at most MaxStreams streams per connection), and gRPC calls
// (HTTP/2 with Content-Type application/grpc; other HTTP/2 requests go
// to the instances as HTTP/1.1) are relayed over an h2c client (net/http's Transport, one
// multiplexed connection per instance) to the next instance, round robin
// per call; bodies stream both ways and trailers (grpc-status) follow the
// body. gRPC paths cannot carry /api/predict/<service>: as in EAS, where
// the host name names the service, a gRPC call (HTTP/2, Content-Type
// application/grpc) to any other path goes to the service. The token is
// checked as for HTTP, and gRPC calls may also send it as EAS documents
// for them, "authorization: Bearer <token>". Keepalive bounds the wait for
// the answer's headers; the body timeout applies to the request stream (a
// client stream idle for BodyTimeout is cut). Without EnableGRPC the
// gateway speaks HTTP/1.1 only. Errors the gateway answers itself (401,
// 429, 503, ...) are plain HTTP statuses, which gRPC clients map to codes
// (Unauthenticated, Unavailable, ...).
//
// # Another front end
//
// The limit logic and the relays do not depend on net/http's server: a
// front end calls limits.admitService / leaveService, then for the picked
// instance limits.instance(name): rate.allow(now), queue.acquire(ctx,
// keepalive) / release, inflight; refusals go through limits.refused.
// WebSocket: after the instance's 101 (pool.get, exchange with
// outRequest.upgrade) it hands relay the client's net.Conn and a reader
// holding what it read ahead, and registers the pair in tunnels. forward
// and forwardH2 need only an http.ResponseWriter (with the methods
// http.ResponseController looks for: FlushError and the deadlines).
//
// # Headers an instance can trust
//
// Client address, as nginx's usual proxy_set_header X-Real-IP
// $remote_addr and X-Forwarded-For $proxy_add_x_forwarded_for: X-Real-IP
// is set to the address of the peer that connected to the gateway, and a
// client's own X-Real-IP is dropped; X-Forwarded-For keeps what the client
// sent and gets the peer appended, so only its last entry is vouched for
// (earlier ones are whatever the client claimed). Other X-Forwarded-*
// headers are passed as sent and are not to be trusted.
//
// easlocal's own credentials never reach an instance: cookies whose name
// starts with ControlCookiePrefix ("easlocal_"; easlocal sets none, the
// control API takes its token in a header) or whose value is
// Options.ControlToken are removed from Cookie, as are headers named
// X-Easlocal-* (the control API's X-Easlocal-Token) and an Authorization
// header that carries the control token (raw or Bearer). The user's
// other cookies pass as sent: a browser sends cookies for 127.0.0.1 to
// every port, so those include cookies other local servers set, which
// the instance then sees.
//
// The service token (Authorization: <token> or the SDKs' EAS signature)
// is passed on to the instance: EAS's documentation and SDKs say nothing
// of the gateway removing it, it is the service's own credential (the
// instance is the service), and instances that log or check it keep
// working. Unconfirmed against EAS; to change it, skip "Authorization" in
// writeHead (upstream.go).
//
// Streamed answers are flushed through http.ResponseController, so a
// middleware wrapping the ResponseWriter must offer Unwrap.
//
// Send timeout: each write of an answer to the client must complete
// within 60 s (nginx's send_timeout); a client that stops reading is cut
// off, which closes the connection to the instance and frees the
// instance's worker blocked writing the answer. A client that reads
// slower than 32 KiB a minute is cut the same way.
//
// Body timeout: each read of a request body must return within
// Options.BodyTimeout (60 s by default, nginx's client_body_timeout), so a
// client that promised a body and stopped sending holds nothing for long;
// an upload that keeps sending, however slowly, is not cut. When it
// expires before the instance's answer was relayed the client gets 408
// and the connection is closed (nginx logs the 408 and closes without
// sending it; easlocal sends it, so a client that still reads learns
// why); once the answer has started the connection is just closed. Either
// way the connection to the instance is closed, so the instance's read of
// the body ends too. Signed requests, whose body is read before anything
// is sent, get the same 408 and never reach an instance.
//
// Early answers: an instance that answers (400, 413) and closes without
// reading the body gets its answer relayed, not a 502: the answer is in
// the receive queue even when the close reset the connection and the
// body's write failed (TestEarlyAnswerInlineBody).
//
// Performance: plain requests are served by the event loops (see
// Servers). Handed-over ones use a lean HTTP/1.1 client (upstream.go)
// rather than net/http's Transport/ReverseProxy: the handler goroutine
// writes the request and reads the answer itself on a pooled keep-alive
// connection (up to 512 idle per instance), with 32 KiB pooled copy
// buffers. See docs/benchmarks.md.
//
// # Tokens (auth.go)
//
// With Options.Token set every request needs one of:
//   - Authorization: <token> — the raw token, as curl users send it;
//   - Authorization: EAS <signature> — what the official SDKs send
//     whenever a token is set (pai-eas/eas-golang-sdk eas/predict_client.go,
//     pai-eas/eas-python-sdk eas_prediction/predict_client.py):
//     base64(HMAC-SHA1(token, METHOD "\n" Content-MD5 "\n" Content-Type
//     "\n" Date "\n" resource)), resource being "/api/predict/<service>"
//     (Python SDK) or that plus the request path (Go SDK, so the request
//     URI); both are accepted, as is the SDKs' fixed Content-Type
//     "application/octet-stream" when a Go SDK user overrode the header.
//
// Comparisons are constant time. A signed request's body is buffered
// (bounded by MaxSignedBody, 413 above) and must match its Content-MD5
// (hex MD5): the signature covers that header, so a body that does not
// match it is unauthenticated and answered 401 (as is a signed request
// without Content-MD5). Raw-token requests stream. The Date header is not
// checked for freshness: EAS's own rule is unknown, and the Python SDK
// formats local time with a "GMT" suffix, so a freshness check would
// refuse it on every machine not on UTC. Change it in verifier.check if
// EAS turns out to check it.
//
// # Direct mode (Sidecars, Discovery)
//
// The SDKs in direct mode poll a discovery URL every 3 s and call
// http://<ip>:<port>/api/predict/<service>... on the instances themselves.
// Sidecars gives each ready instance a small gateway on 127.0.0.1:<port>
// that accepts that prefix, strips it, checks the token the same way and
// forwards to that instance only (503 if it is no longer ready). It follows
// the endpoint set synchronously: the sidecar listens when Set returns and
// stops accepting before Remove returns (requests in flight get
// SidecarGrace); an instance that comes back gets its old port when free.
// Discovery answers, without a token:
//
//	GET /exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/<service>   (Go SDK, newer Python SDK)
//	GET /api/v1/servicediscovery/upstreams/<service>
//	    → {"endpoints":{"items":[{"ip":"127.0.0.1","port":N,"weight":100}]}}
//	GET /exported/apis/eas.alibaba-inc.k8s.io/v1/namespaces/<service, _ as ->/easendpoints  (older Python SDK)
//	    → {"items":[{"ip":"127.0.0.1","port":N,"weight":100}]}
//
// listing the sidecar addresses of ready instances only.
//
// # Faults (faults.go)
//
// Options.Faults, shared by the gateway and its sidecars, injects HTTP
// faults after the endpoint is picked and the limits admitted the request
// (WebSocket and gRPC included): a delay before forwarding, or an
// abort (the gateway answers a status, with X-Easlocal-Fault naming the
// fault, or closes the connection) instead of forwarding, each for the
// requests routed to one instance or all of them, a share (Percent) and
// optionally only the first N. An aborted request is not retried on
// another instance. The set is read through one atomic pointer: no lock
// and no allocation on the request path while no fault is active.
//
// # Servers
//
// server.go: NewServer returns a Server (Serve, Shutdown, Close) for any
// handler, with limits against hostile clients (header timeout 10 s,
// 1 MiB headers, idle timeout 2 min); Serve runs one on a listener until a
// context is done, then shuts down gracefully. A request with both
// Content-Length and Transfer-Encoding is read by its chunks alone
// (Content-Length is never forwarded), answered, and its connection is
// then closed (RFC 9112 section 6.1); net/http would keep it open, so the
// Server watches the request heads it reads (a body line that looks like
// both headers can only cause an early close). There is no read or write
// timeout for a whole request: bodies and answers may stream for as long
// as they make progress.
//
// front.go: plain HTTP/1.1 requests (a head of at most 4 KiB with a Host,
// no body or a Content-Length one, no Upgrade or Expect) are served by a
// loop of the Server's own: one goroutine per connection, the head parsed
// in place, the header map and writer reused, a hang-up watched for only
// once a request has run 50 ms, waiting connections closed by a timer
// sweep instead of per-request deadlines. Everything else (HTTP/1.0, h2c,
// WebSocket upgrades, chunked request bodies, heads net/http would read
// differently or refuse) is handed with the bytes already read to
// net/http's server, which then serves that connection; so the protocol's
// corners stay net/http's. TestFrontMatchesNetHTTP sends the same raw
// requests to both and compares the answers and what the handler saw;
// the gateway tests all run on NewServer, and FuzzFront compares the two
// on arbitrary bytes. A handler must not touch its request's Header or
// Body after it returned: the loop reuses both for the connection's next
// request (net/http allows reading Header later). BenchmarkGateway and
// BenchmarkGatewayNetHTTP compare the two servers (docs/benchmarks.md).
//
// loop.go, loop_linux.go (the loops, their timers), loopclient_linux.go,
// loopupstream_linux.go, chunk.go: a Server whose handler is a Gateway (or a
// LoopGateway wrapping one, as the metrics middleware does) serves the
// gateway's plain requests on event loops, as nginx does: max(1,
// GOMAXPROCS-1) goroutines, each blocked in
// epoll_wait on an edge-triggered set of its own that holds its client
// connections and its own keep-alive connections to the instances; no
// goroutine per connection. A loop serves a keep-alive HTTP/1.1 request
// to /api/predict/<service> with no token or the raw token, no fault
// active, none of the limits configured and a body of at most inlineBody
// (streamed as it arrives): the head parsed as the front loop parses it,
// the request written as forward writes it, the answer (Content-Length,
// chunked, or until the instance closes; HEAD, 204, 304; 1xx dropped)
// relayed as it arrives with back-pressure and framed as the front
// loop's writer frames it, retries, 408 (keepalive, body), 499, 502, 503,
// the header, idle and send timeouts, Observe and the access log as
// forward does. Everything else is handed over before anything is sent
// to an instance, with the bytes read so far, to the front loop (the
// gateway's handler: signed tokens, limits, faults, WebSocket, 401, 404,
// discovery, large bodies) or to net/http's server (h2c, HTTP/1.0,
// Expect, chunked bodies, heads the lean parser leaves to it), which
// serve that connection from then on. TestLoopMatchesFront sends the same
// requests through both and compares the answers and what the instance
// saw; the gateway tests and the hostile-client suite run on the loops.
// WithoutEventLoop turns them off. A loop writes nothing while it handles
// the events of one wait: the writes go out after the last of them, the
// requests grouped by instance (evLoop.handle, TestLoopWritesAfterBatch),
// so an instance gets a batch's requests back to back. The loops parse
// each head into an arena their connection keeps (headArena, head.go),
// so a relayed request allocates nothing (TestLoopRequestAllocatesNothing).
//
// hostile_test.go measures the gateway under hostile clients (slow
// readers and writers, oversized headers, hang-ups, 2000 idle
// connections); its t.Logf lines give the figures (e.g. on the event
// loops ~6.5 KiB and no goroutine per idle connection, ~120 KiB of heap
// per slow reader).
package proxy
