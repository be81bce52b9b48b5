package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// wrkRPS runs Debian's wrk (2 threads, conns connections) against url for
// dur and returns its Requests/sec: a second, independent load generator
// for the gateway/nginx ratio.
func wrkRPS(ctx context.Context, url string, conns int, dur time.Duration) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, dur+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "wrk", "-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", int(dur.Seconds())), url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %w: %s", err, out)
	}
	m := wrkRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("wrk printed no Requests/sec: %s", out)
	}
	if e := wrkErrRE.FindSubmatch(out); e != nil {
		return 0, fmt.Errorf("wrk saw errors: %s", e[0])
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

var (
	wrkRE    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkErrRE = regexp.MustCompile(`(Non-2xx or 3xx responses|Socket errors): .*`)
)
