package main

import (
	"strconv"
	"strings"
)

// metrics is a parsed Prometheus text exposition: metric name to the
// values of its series (labels as written, e.g. `{instance="a-0"}`).
type metrics map[string]map[string]float64

// parseMetrics reads the text format; it skips comments and any line it
// cannot read rather than failing the sample.
func parseMetrics(text string) metrics {
	m := metrics{}
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		// name{labels} value [timestamp]; label values may hold spaces
		// and braces, so the labels end at the last closing brace.
		var name, labels, val string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			name, labels, val = line[:i], line[i:j+1], line[j+1:]
		} else {
			var ok bool
			if name, val, ok = strings.Cut(line, " "); !ok {
				continue
			}
			labels = "{}"
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		if m[name] == nil {
			m[name] = map[string]float64{}
		}
		m[name][labels] = v
	}
	return m
}

// sum adds up every series of name (0 when it is absent).
func (m metrics) sum(name string) float64 {
	var s float64
	for _, v := range m[name] {
		s += v
	}
	return s
}

// sumWhere adds up the series of name whose labels contain sub.
func (m metrics) sumWhere(name, sub string) float64 {
	var s float64
	for l, v := range m[name] {
		if strings.Contains(l, sub) {
			s += v
		}
	}
	return s
}
