package service

import (
	"fmt"
	"strings"
	"testing"
)

// wideDocument is a hostile but legal service.json: n keys in metadata,
// n dotted keys merging into it from the top level, and an alias moving
// an object of n keys onto another.
func wideDocument(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"metadata": {"name": "wide"`)
	for i := range n {
		fmt.Fprintf(&b, `, "k%d": 1`, i)
	}
	b.WriteString(`, "rpc": {"keepalive": 1`)
	for i := range n {
		fmt.Fprintf(&b, `, "r%d": 1`, i)
	}
	b.WriteString(`}}, "rpc": {"keepalive": 1`)
	for i := range n {
		fmt.Fprintf(&b, `, "r%d": 1`, i)
	}
	b.WriteString(`}`)
	for i := range n {
		fmt.Fprintf(&b, `, "metadata.d%d": 1`, i)
	}
	b.WriteString(`, "containers": [{"image": "app"}]}`)
	return []byte(b.String())
}

// Key normalisation stays linear in the number of keys (the 10 MB file
// limit allows hundreds of thousands in one object).
func BenchmarkParseWide(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		data := wideDocument(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				Parse(data)
			}
		})
	}
}
