package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/reconcile"
)

// serve runs the nightly job on a cron schedule. Of several replicas, the one holding the leader
// lock runs; the others wait for it. A missed night is caught up at start from the last completed
// business date kept in PostgreSQL.
func serve(ctx context.Context, r *batch.Runner, cfg *config, stdout io.Writer, logger *slog.Logger) (int, error) {
	sched, err := cron.ParseStandard(withTZ(cfg.Schedule, cfg.TZ.String()))
	if err != nil {
		return exitUsage, usageError{fmt.Errorf("CASHPOOL_SCHEDULE %q: %w", cfg.Schedule, err)}
	}
	var leader atomic.Bool
	var lastRun atomic.Value
	lastRun.Store("")
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := r.DB.PingContext(ctx); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		l := 0
		if leader.Load() {
			l = 1
		}
		fmt.Fprintf(w, "# HELP cashpool_leader 1 when this replica holds the runner lock.\n# TYPE cashpool_leader gauge\ncashpool_leader %d\n", l)
		if c, ok := r.Broker.(interface{ Calls() int64 }); ok {
			fmt.Fprintf(w, "# HELP cashpool_broker_calls_total HTTP calls made to Alpaca.\n# TYPE cashpool_broker_calls_total counter\ncashpool_broker_calls_total %d\n", c.Calls())
		}
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, req *http.Request) {
		date := req.URL.Query().Get("date")
		if date == "" {
			date = time.Now().In(cfg.TZ).Format(time.DateOnly)
		}
		var buf bytes.Buffer
		if err := batch.WriteStatus(req.Context(), &buf, r.DB, cfg.SweepAccount, date, time.Now(), reconcile.WatchFor(cfg.WatchFor)); err != nil {
			http.Error(w, "status unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(buf.Bytes())
	})
	srv := &http.Server{Addr: cfg.HTTPAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server", "err", err)
		}
	}()
	defer srv.Shutdown(context.Background())
	logger.Info("serving", "addr", cfg.HTTPAddr, "schedule", cfg.Schedule, "tz", cfg.TZ.String())

	// The drop folder is scanned between nights too, so a bad file is answered within minutes, not
	// at the next run; the scan takes the same lock as a run's ingest.
	go func() {
		t := time.NewTicker(cfg.ScanEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if !leader.Load() {
					continue
				}
				res, err := r.Ingest(ctx)
				if err != nil && !errors.Is(err, batch.ErrBusy) {
					logger.Error("drop-folder scan", "err", err)
					continue
				}
				for _, f := range res.Files {
					if f.Outcome != ingest.OutcomeIncomplete && f.Outcome != ingest.OutcomeIgnored {
						logger.Info("drop-folder scan", "file", f.Name, "outcome", f.Outcome, "rows", f.Rows, "errors", f.Errors)
					}
				}
			}
		}
	}()

	sc := &batch.Scheduler{Runner: r, Schedule: sched, TZ: cfg.TZ, Logger: logger,
		OnLeader: func(b bool) { leader.Store(b) }}
	if err := sc.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return exitFailure, err
	}
	return exitOK, nil
}

func withTZ(spec, tz string) string {
	if len(spec) >= 8 && (spec[:8] == "CRON_TZ=" || spec[:3] == "TZ=") {
		return spec
	}
	return "CRON_TZ=" + tz + " " + spec
}
