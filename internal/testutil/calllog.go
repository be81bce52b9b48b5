package testutil

import (
	"fmt"
	"sync"
)

// CallLog records, in order, the calls a fake receives, each as one
// formatted line ("kill demo-1 SIGTERM"). Safe for concurrent use; the
// zero value is ready.
type CallLog struct {
	mu    sync.Mutex
	calls []string
}

// Add records one call, formatted as fmt.Sprintf(format, args...).
func (l *CallLog) Add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf(format, args...))
}

// Calls returns a copy of the calls recorded so far.
func (l *CallLog) Calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}
