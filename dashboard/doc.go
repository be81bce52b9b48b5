// Package dashboard owns the live web page of one running service, served
// by the control API: the page itself (static/: index.html, app.js and
// style.css, embedded; plain HTML, CSS and JavaScript, no build step,
// < 30 KiB), the state stream it follows, the request-rate history behind
// its chart and the built-in load generator.
//
// # Wiring (session/dashboard.go)
//
//	m := metrics.New(...)
//	d := dashboard.New(dashboard.Options{
//		Controller: ctrl,            // admin.Controller of the service
//		Totals:     m.Totals,        // gateway counts for the chart
//		LoadURL:    predictURL,      // loopback gateway URL for the load generator
//		LoadToken:  gatewayToken,
//	})
//	d.Register(adminServer)          // GET /ui/, GET /ui/stream, POST /ui/load
//	go d.Run(ctx)                    // samples rates; ends the load with ctx
//	fmt.Println(dashboard.URL(adminServer.URL(), adminToken))
//
// # The token
//
// The page URL is <control API>/ui/#token=<admin token> (URL). The token
// is in the fragment, which a browser sends to no server and leaves out
// of Referer; the page reads it into a variable, removes it from the
// address bar and history (history.replaceState) and sends it in the
// X-Easlocal-Token header on every request. Nothing else authorises the
// page: no cookie, which pages of other origins (another port of
// 127.0.0.1) would make the browser send too. A reload therefore needs
// the printed URL again. The streams are read with fetch, since
// EventSource cannot send a header.
//
// The page, script and style are served without the token (they hold no
// secret; admin.Server.HandlePage), with ContentSecurityPolicy (own
// script, style and requests only, nothing inline, no framing, no forms)
// and Referrer-Policy: no-referrer.
//
// # Routes
//
//	GET  /ui/             the page (and /ui/app.js, /ui/style.css); no token
//	GET  /ui/stream       server-sent events "state": State as JSON, at once,
//	                      then every second and right after each service event
//	POST /ui/load?on=1|0  load generator on or off → {"on":bool}
//
// Everything else the page does goes to the control API: events follow
// GET /v1/events?follow=1&since=N (server-sent events), and the buttons
// POST /v1/instances/{name}/kill|pause|unpause and /v1/scale?n=N.
//
// # Chart
//
// Run samples metrics.Totals once a second into per-second rates (all
// requests, errors: 5xx and the limits' 429 and 450, per instance when
// the gateway reports upstreams) and keeps Window of them; every state
// carries the history, so a reloaded page has its chart at once.
//
// # Load generator
//
// While on, one goroutine ticks DefaultLoadRate (20) times a second and
// starts a GET to the gateway per tick, at most maxInFlight open at once
// (ticks beyond are dropped, not queued), each with a 5 s timeout. It runs
// in Run's context, so it stops with the service, or with ?on=0; Stop waits
// for requests in flight.
package dashboard
