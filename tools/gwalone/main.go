// Command gwalone measures the gateway alone, without containers: three
// small Go upstreams on loopback and the gateway in front of them, served
// by easlocal's server (its event loops, as shipped, or its front loop
// alone), by net/http's or by fasthttp's (through fasthttpadaptor), so the servers and nginx can be compared with
// wrk on the same upstreams. Two stand-ins measure other server designs
// doing the gateway's minimum per request: fasthttp (fast.go) and an
// epoll event loop (epoll.go).
//
//	go run ./gwalone -upstreams &              # 127.0.0.1:18901-18903
//	go run ./gwalone -server loop &            # gateway on 127.0.0.1:18999
//	wrk -t2 -c16 -d4s http://127.0.0.1:18999/api/predict/svc/x
//
// tools/gwalone/check.sh checks what each target passes on;
// tools/gwalone/compare.sh runs the comparison in rounds and prints each
// server's requests a second, p99 and CPU time per request (from
// /proc/<pid>/stat). pprof is served on 127.0.0.1:18998.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"time"

	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/proxy"
)

const firstUpstream = 18901

func main() {
	server := flag.String("server", "loop", "loop (easlocal's server, as shipped: the event loops), front (easlocal's server without the event loops: a goroutine per connection), nethttp (net/http's), fastadapt (the gateway on fasthttp's server through fasthttpadaptor), fasthttp or epoll (stand-ins)")
	token := flag.String("token", "", "service token the gateway requires (raw, in Authorization)")
	ups := flag.Bool("upstreams", false, "serve only the three upstreams")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *ups {
		for i := range 3 {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", firstUpstream+i))
			if err != nil {
				log.Fatal(err)
			}
			go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				if r.URL.Path == "/echo" { // to check what a variant passes on
					fmt.Fprintf(w, "%s %s\n", r.Method, r.RequestURI)
					r.Header.Write(w)
					io.Copy(w, r.Body)
					return
				}
				if r.URL.Path == "/big" {
					w.Header().Set("Content-Length", "4000000")
					w.Write(bytes.Repeat([]byte("0123456789\n"), 4000000/11+1)[:4000000])
					return
				}
				if r.URL.Path == "/sum" {
					h := sha256.New()
					n, _ := io.Copy(h, r.Body)
					fmt.Fprintf(w, "%d %x\n", n, h.Sum(nil))
					return
				}
				io.WriteString(w, "hello from the instance\n")
			}))
		}
		<-ctx.Done()
		return
	}
	set := endpoints.New()
	for i := range 3 {
		ap := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", firstUpstream+i))
		set.Set(fmt.Sprintf("i%d", i), endpoints.Endpoint{Instance: fmt.Sprintf("i%d", i), IP: ap.Addr(), Port: int(ap.Port())})
	}
	go http.ListenAndServe("127.0.0.1:18998", nil) // pprof
	if *server == "epoll" {
		if err := serveEpoll(ctx, "127.0.0.1:18999", "svc", *token); err != nil {
			log.Fatal(err)
		}
		return
	}
	g := proxy.New(proxy.Options{Service: "svc", Token: *token, Endpoints: set})
	ln, err := net.Listen("tcp", "127.0.0.1:18999")
	if err != nil {
		log.Fatal(err)
	}
	switch *server {
	case "fasthttp":
		err = serveFast(ctx, ln, "svc", *token)
	case "fastadapt":
		err = serveFastAdapted(ctx, ln, g)
	case "loop":
		err = proxy.Serve(ctx, ln, g, zerolog.Nop(), time.Second)
	case "front":
		err = proxy.Serve(ctx, ln, g, zerolog.Nop(), time.Second, proxy.WithoutEventLoop())
	case "nethttp":
		hs := &http.Server{Handler: g}
		go func() { <-ctx.Done(); hs.Close() }()
		if err = hs.Serve(ln); err == http.ErrServerClosed {
			err = nil
		}
	default:
		log.Fatalf("-server %q: want loop, front, nethttp, fastadapt, fasthttp or epoll", *server)
	}
	if err != nil {
		log.Fatal(err)
	}
}
