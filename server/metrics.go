package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics holds the service's Prometheus collectors, in a registry of its
// own so that several Servers can live in one process.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec   // by route and code
	duration *prometheus.HistogramVec // by route
	queued   prometheus.Gauge
	busy     prometheus.Gauge
	rejected prometheus.Counter
	pixels   *prometheus.CounterVec // by model
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upscaler_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "upscaler_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, until the handler returns.",
			Buckets: []float64{0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"route"}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "upscaler_queue_length",
			Help: "Upscale calls waiting for a worker.",
		}),
		busy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "upscaler_busy_workers",
			Help: "Upscale calls running.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "upscaler_rejected_total",
			Help: "Upscale calls rejected with 429 because the queue was full.",
		}),
		pixels: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upscaler_output_pixels_total",
			Help: "Pixels produced by finished upscale calls, by model.",
		}, []string{"model"}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.queued, m.busy, m.rejected, m.pixels,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
