package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// dbCollector reads gauges from the database at scrape time, so they are
// right after a restart and need no bookkeeping on the hot path.
type dbCollector struct{ app *App }

var (
	incidentsDesc = prometheus.NewDesc("bot_incidents", "Incidents by status.", []string{"status"}, nil)
	outboxDesc    = prometheus.NewDesc("bot_outbox_pending", "Outbox messages waiting for delivery, by consumer.", []string{"consumer"}, nil)
	timersDesc    = prometheus.NewDesc("bot_timers_pending", "Durable timers armed and not yet run.", nil, nil)
)

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- incidentsDesc
	ch <- outboxDesc
	ch <- timersDesc
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.app.Incidents.CountByStatus(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(incidentsDesc, err)
	} else {
		for st, n := range counts {
			ch <- prometheus.MustNewConstMetric(incidentsDesc, prometheus.GaugeValue, float64(n), string(st))
		}
	}
	db := c.app.Store.Read()
	rows, err := db.QueryContext(ctx, `SELECT consumer, count(*) FROM outbox WHERE state = 'pending' GROUP BY consumer`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxDesc, err)
	} else {
		for rows.Next() {
			var consumer string
			var n float64
			if err := rows.Scan(&consumer, &n); err != nil {
				ch <- prometheus.NewInvalidMetric(outboxDesc, err)
				break
			}
			ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, n, consumer)
		}
		rows.Close()
	}
	var timers float64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM timers`).Scan(&timers); err != nil {
		ch <- prometheus.NewInvalidMetric(timersDesc, err)
	} else {
		ch <- prometheus.MustNewConstMetric(timersDesc, prometheus.GaugeValue, timers)
	}
}
