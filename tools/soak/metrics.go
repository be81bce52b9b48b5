package main

import (
	"io"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metrics is a parsed Prometheus text exposition, by metric family name.
type metrics map[string]*dto.MetricFamily

// parseMetrics reads the Prometheus text format. A malformed exposition
// is an error (the sample records it) rather than a partial reading.
func parseMetrics(r io.Reader) (metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// sum adds up every series of name (0 when it is absent).
func (m metrics) sum(name string) float64 {
	return m.sumWhere(name, func(*dto.Metric) bool { return true })
}

// sumLabelPrefix adds up the series of name whose label has a value
// starting with prefix (e.g. code "2" for the 2xx answers).
func (m metrics) sumLabelPrefix(name, label, prefix string) float64 {
	return m.sumWhere(name, func(s *dto.Metric) bool {
		for _, l := range s.GetLabel() {
			if l.GetName() == label {
				return strings.HasPrefix(l.GetValue(), prefix)
			}
		}
		return false
	})
}

// value is the unlabelled series of name, if there is one.
func (m metrics) value(name string) (float64, bool) {
	for _, s := range m[name].GetMetric() {
		if len(s.GetLabel()) == 0 {
			v, ok := seriesValue(s)
			return v, ok
		}
	}
	return 0, false
}

func (m metrics) sumWhere(name string, keep func(*dto.Metric) bool) float64 {
	var sum float64
	for _, s := range m[name].GetMetric() {
		if v, ok := seriesValue(s); ok && keep(s) {
			sum += v
		}
	}
	return sum
}

// seriesValue is a counter's, gauge's or untyped series' value; histograms
// and summaries have none.
func seriesValue(s *dto.Metric) (float64, bool) {
	switch {
	case s.Counter != nil:
		return s.GetCounter().GetValue(), true
	case s.Gauge != nil:
		return s.GetGauge().GetValue(), true
	case s.Untyped != nil:
		return s.GetUntyped().GetValue(), true
	}
	return 0, false
}
