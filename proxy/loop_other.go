//go:build !linux

package proxy

import (
	"errors"
	"net"
	"time"
)

// Elsewhere than on Linux the gateway is served by the front loop alone.
type loops struct{}

func startLoops(*Server, *Gateway, func(int, time.Duration)) (*loops, error) {
	return nil, errors.New("the event loops need Linux")
}

func (*loops) adopt(net.Conn) bool { return false }
func (*loops) closeIdle() bool     { return true }
func (*loops) closeAll()           {}
func (*loops) wait()               {}
func (*loops) closeIdleUpstreams() {}
