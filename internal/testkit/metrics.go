package testkit

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricValue returns the value of the gauge or counter series
// name{label="value"} in g, and whether that series exists.
func MetricValue(t testing.TB, g prometheus.Gatherer, name, label, value string) (float64, bool) {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() != label || l.GetValue() != value {
					continue
				}
				switch {
				case s.GetGauge() != nil:
					return s.GetGauge().GetValue(), true
				case s.GetCounter() != nil:
					return s.GetCounter().GetValue(), true
				}
				return 0, true
			}
		}
	}
	return 0, false
}
