// Package dashboard owns the live web page of one running service, served
// by the control API behind its token: the page itself (static/index.html,
// embedded: plain HTML, CSS and JavaScript, no build step, < 30 KiB), the
// state stream it follows, the request-rate history behind its chart and
// the built-in load generator.
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
//
// The page URL is <control API>/ui/?token=<admin token>: the token query
// sets the admin server's cookie, so the page's own requests need nothing.
//
// # Routes
//
//	GET  /ui/             the page
//	GET  /ui/stream       server-sent events "state": State as JSON, at once,
//	                      then every second and right after each service event
//	POST /ui/load?on=1|0  load generator on or off → {"on":bool}
//
// Everything else the page does goes to the control API: events follow
// GET /v1/events?follow=1 (server-sent events), and the buttons POST
// /v1/instances/{name}/kill|pause|unpause and /v1/scale?n=N.
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
