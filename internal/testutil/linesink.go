package testutil

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// LineSink is an io.Writer for output that keeps coming (a followed log
// or event stream): each complete line written goes to Lines.
type LineSink struct {
	mu    sync.Mutex
	part  string // an unfinished last line; guarded by mu
	Lines chan string
}

// NewLineSink returns a LineSink that holds up to 1000 unread lines.
func NewLineSink() *LineSink { return &LineSink{Lines: make(chan string, 1000)} }

func (l *LineSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part += string(p)
	for {
		i := strings.IndexByte(l.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.Lines <- l.part[:i]
		l.part = l.part[i+1:]
	}
}

// Expect fails t unless the next line written is want. The timeout only
// bounds a broken test; a passing test never waits for it.
func (l *LineSink) Expect(t testing.TB, want string) {
	t.Helper()
	select {
	case got := <-l.Lines:
		if got != want {
			t.Fatalf("printed %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing printed within 10s, want %q", want)
	}
}
