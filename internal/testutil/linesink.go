package testutil

import (
	"fmt"
	"strings"
	"sync"
	"testing"
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

// Next returns the next line written, failing t if none comes. The
// timeout only bounds a broken test; a passing test never waits for it.
func (l *LineSink) Next(t testing.TB) string {
	t.Helper()
	return l.next(t, "")
}

// Expect fails t unless the next line written is want.
func (l *LineSink) Expect(t testing.TB, want string) {
	t.Helper()
	if got := l.next(t, fmt.Sprintf(", want %q", want)); got != want {
		t.Fatalf("printed %q, want %q", got, want)
	}
}

// next is Next with more words (wanted) for the failure.
func (l *LineSink) next(t testing.TB, wanted string) string {
	t.Helper()
	return Recv(t, l.Lines, "nothing printed within 10s"+wanted)
}
