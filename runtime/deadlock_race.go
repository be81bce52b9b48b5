//go:build race

package runtime

import "github.com/sasha-s/go-deadlock"

// go-cni swaps its mutexes for sasha-s/go-deadlock under -race. That
// checker tells goroutines apart with petermattis/goid, which answers 0
// for every goroutine on Go 1.26, so two pods set up at once look like
// one goroutine locking twice and the process is killed. The race
// detector is what we want from -race; turn the lock-order checker off.
func init() { deadlock.Opts.Disable = true }
