package runtime

import (
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// countWriter is a live stream that keeps nothing: what the prefixer
// and a terminal cost is not this package's.
type countWriter struct{ n atomic.Int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// BenchmarkLogWriter is the cost of one line of container output as
// `up` handles it: appended to the log file and queued for the live
// (foreground) stream. The line is the example app's request log line.
func BenchmarkLogWriter(b *testing.B) {
	line := []byte("2026-12-01T10:20:16Z INF request bytes=416 from=10.213.0.1:33668 method=GET path=/ status=200 took=\"14µs\" xff=127.0.0.1\n")
	for _, live := range []bool{false, true} {
		name := "file"
		if live {
			name = "file+live"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			var out io.Writer
			if live {
				out = &countWriter{}
			}
			w, err := openLog(dir, filepath.Join(dir, "c0.log"), 1<<30, out, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				w.Write(line)
			}
			w.Close()
		})
	}
}
