// Package admin owns the control API of a running service: the loopback
// HTTP server `easlocal up` starts beside the gateway, the client the CLI
// commands (ps, endpoints, events, logs, kill, pause, unpause, scale,
// down) use, and the registry through which the CLI finds a running
// service by name. Driver (driver.go) is the one way to drive a running
// service from outside: wait until it is ready (its NotReadyError carries
// the service's own not-ready report, ServiceStatus.NotReady), wait until
// it has endpoints, stop it and wait until it is gone, follow its logs
// across restarts and scale; the CLI, the end-to-end tests and the tools
// use it.
//
// # Wiring (in `easlocal up`)
//
//	ctrl := ...                     // adapts the scheduler (session/controller.go)
//	srv := admin.NewServer(ctrl, admin.Options{Token: admin.NewToken(), Logger: log})
//	srv.HandlePage("GET /metrics", promhttp.Handler()) // optional, no token
//	if err := srv.Start(); err != nil { ... }
//	defer srv.Close(ctx)
//	reg := admin.Registry{}          // Dir "" = /run/easlocal/services
//	lock, err := reg.TryLock(svc, admin.LockUp) // before any cleanup or creation
//	if err != nil { ... }            // ErrAlreadyRunning: who holds the service
//	defer lock.Remove()              // last, after the teardown
//	self, _ := admin.Self()          // PID, start time, executable
//	e := admin.Entry{Name: svc, AdminURL: srv.URL(),
//		GatewayURL: gw, Token: gatewayToken, AdminToken: token, Started: time.Now()}
//	e.SetProcess(self)
//	if err := reg.Register(e); err != nil { ... }
//	defer reg.Unregister(e)
//
// An entry counts as running only while its process has the recorded
// start time and executable (process.go): a crashed run's PID may belong
// to another program by now, and is never signalled. Entries of crashed
// runs stay until a holder of the service's lock (lock.go) removes or
// replaces them: `down` finds what to clean up by them.
//
// Controller.Shutdown (POST /v1/down) must only start the teardown; the
// process then closes the server, unregisters and exits, which is what
// `easlocal down` waits for (or, when the API does not answer, it sends
// the process SIGTERM). An events.Log gives a Controller its Events and
// Subscribe; admintest.Fake is a Controller for tests.
//
// # API
//
// All answers are JSON; errors are {"error": "<sentence>"} with the status
// of the error's github.com/containerd/errdefs class (errhttp.ToHTTP): 400
// bad input, 401 token, 404 unknown instance or container, 409 conflict,
// 412 an action the instance cannot take now, 500 anything else. Client
// errors (*APIError) unwrap to the class again, so callers write
// errdefs.IsNotFound(err). Events are events.Event.
//
//	GET  /v1/status                      ServiceStatus
//	GET  /v1/endpoints                   []Endpoint
//	GET  /v1/events?since=N              EventsPage{events, next}
//	GET  /v1/events?since=N&follow=1     JSON lines, one Event each, until the
//	                                     service ends (Accept: text/event-stream
//	                                     gives server-sent events instead, with
//	                                     id = Seq and Last-Event-ID honoured)
//	GET  /v1/logs?instance=I[&container=C][&follow=1]
//	                                     text; followed across restarts
//	POST /v1/instances/{name}/kill[?signal=SIGTERM]  (default SIGKILL)
//	POST /v1/instances/{name}/pause
//	POST /v1/instances/{name}/unpause
//	POST /v1/scale?n=N
//	POST /v1/down                        202, teardown started
//	POST   /v1/faults                    Fault JSON → {"id": ...} (faults.go)
//	GET    /v1/faults                    []Fault, the active ones with their end
//	DELETE /v1/faults/{id}               revert one
//	DELETE /v1/faults                    revert all
//	POST /v1/update   UpdateRequest      202 UpdateAnswer: a rolling update
//	                                     to the service.json sent (update.go;
//	                                     a Controller that is an Updater)
//	POST /v1/restart  UpdateRequest      202 UpdateAnswer: every instance rolled
//	                                     progress: ServiceStatus.Update
//	GET  /v1/advice                      AdviceReport (advice.go; 404 when the
//	                                     Controller is no AdviceController)
//
// Faults need a Controller that is also a FaultController (501
// otherwise); Fault.Validate checks one before it is sent or taken.
//
// # Who may call it
//
// The token, when set, goes in the header "X-Easlocal-Token: T" or
// "Authorization: Bearer T" on every request. A cookie is not accepted:
// a browser attaches it to requests that pages of other origins make
// (another port of 127.0.0.1 is another origin but the same site, so a
// SameSite cookie does not help); nor is a token= query parameter (URLs
// land in history, logs and Referer).
// Handle adds more routes (metrics, the dashboard's streams) behind the
// same check; HandlePage adds GET-only pages served without it (the
// dashboard's HTML, which reads the token from its URL fragment, and
// /metrics, which Prometheus scrapes like any exporter on loopback). The
// /v1/ prefix belongs to this package.
//
// Every request, with a token or not, is refused with 403 unless its
// Host names the server's own address (127.0.0.1:P, localhost:P or
// [::1]:P), so a page on a DNS name rebound to 127.0.0.1 cannot reach
// it, and unless its Origin, when sent, is one of those as well; token
// routes also refuse a Sec-Fetch-Site other than same-origin or none.
// No answer carries CORS headers, so no other origin reads one. Answers
// say nosniff, no-referrer, no-store and DENY framing.
//
// The server is proxy.NewServer's (header timeout 10 s, 1 MiB headers,
// idle keep-alive connections closed after 2 min), like the gateway.
//
// # Logs
//
// Logs are served from the files Controller.LogPath names, not through the
// runtime: a follower reads to the end, polls, and when the path changes
// (a restarted container) or the file is replaced or truncated, it drains
// the old file and continues with the new one from its start.
package admin
