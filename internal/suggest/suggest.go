// Package suggest finds the known word a mistyped one was probably meant
// to be, for the "did you mean" of service.json and scenario files.
package suggest

import "strings"

var separators = strings.NewReplacer("_", "", "-", "", " ", "")

// Normalize is how words are compared: lower case, without '_', '-' and
// spaces.
func Normalize(s string) string {
	return separators.Replace(strings.ToLower(s))
}

// Closest returns the word of known nearest to w after Normalize, or ""
// when none is close: within an edit distance of 1 for short words, 2
// from 5 characters, 3 from 9.
func Closest(w string, known []string) string {
	nw := Normalize(w)
	best, bestDist := "", 1<<30
	for _, k := range known {
		if d := editDistance(nw, Normalize(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	limit := 1
	switch {
	case len(nw) >= 9:
		limit = 3
	case len(nw) >= 5:
		limit = 2
	}
	if bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance over bytes (keys are ASCII in
// practice; bytes keep it cheap on hostile input). Words longer than 64
// bytes are not compared: nothing known is that long.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
