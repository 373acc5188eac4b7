package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/console"
	"github.com/cashpool/cashpool/metrics"
	"github.com/cashpool/cashpool/reconcile"
)

// serve runs the nightly job on a cron schedule. Of several replicas, the one holding the leader
// lock runs; the others wait for it. A missed night is caught up at start from the last completed
// business date kept in PostgreSQL.
func serve(ctx context.Context, r *batch.Runner, cfg *config, m *metrics.Metrics, stdout io.Writer, logger *slog.Logger) (int, error) {
	sched, err := parseSchedule(cfg.Schedule, cfg.TZ, time.Now())
	if err != nil {
		return exitUsage, usageError{err}
	}
	// Listen before anything else: a replica that cannot answer health checks must not become the
	// leader and run nights nobody can see.
	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return exitFailure, fmt.Errorf("CASHPOOL_HTTP_ADDR %s: cannot listen (%w); is another process using it? Nothing was started", cfg.HTTPAddr, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var leader atomic.Bool
	var lastRun atomic.Value
	lastRun.Store("")
	mux := http.NewServeMux()
	// Liveness: the process answers. A database outage is readiness's concern; restarting every
	// replica for it would not bring the database back.
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("/readyz", readyHandler(r.DB, readyTimeout))
	mux.Handle("/metrics", m.Handler())
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
	// The operator console, at / beside the probes: read-only unless a console token is set.
	mux.Handle("/", console.New(console.Config{DB: r.DB, SweepAccount: cfg.SweepAccount, BatchSize: cfg.BatchSize,
		WatchFor: cfg.WatchFor, TZ: cfg.TZ, Token: cfg.ConsoleToken, UserHeader: cfg.ConsoleUserHeader, Logger: logger,
		NextRun: func() time.Time { return sched.Next(time.Now()) }, Leader: leader.Load,
		CurrentLeader: func(ctx context.Context) (string, time.Time, error) {
			return batch.CurrentLeader(ctx, r.DB, cfg.SweepAccount)
		},
		// After an approved redrive the date runs again, as `cashpool redrive --yes` does; the run
		// lock keeps it from overlapping the scheduler's run of the same date.
		Rerun: func(date string) {
			go func() {
				rl := withRunID(logger)
				if _, err := r.Run(ctx, date); err != nil {
					rl.Error("redrive from the console: the new journals are planned but the run stopped; it is resumed by the next night", "date", date, "err", err)
				}
			}()
		}}))
	srv := newHTTPServer(mux)
	go func() {
		// Without HTTP this replica is blind to operations: stop it rather than run on.
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cancel(fmt.Errorf("http server: %w", err))
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
				if err != nil && !errors.Is(err, schema.ErrBusy) {
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

	sc := &batch.Scheduler{Runner: r, Schedule: sched, TZ: cfg.TZ, Logger: logger, RunOnHolidays: cfg.RunHolidays,
		OnLeader:  func(b bool) { leader.Store(b); m.Leader(b) },
		RunLogger: func() *slog.Logger { return withRunID(logger) }}
	if err := sc.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return exitFailure, err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return exitFailure, cause
	}
	return exitOK, nil
}

// readyTimeout bounds /readyz's database check, well inside a probe's usual 5s timeout.
const readyTimeout = 3 * time.Second

// readyHandler is readiness: the database answers a ping within timeout, or 503. It answers at the
// deadline even when the driver does not give up then (a server that accepts connections and says
// nothing holds a connect until connect_timeout).
func readyHandler(db interface{ PingContext(context.Context) error }, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), timeout)
		defer cancel()
		ping := make(chan error, 1)
		go func() { ping <- db.PingContext(ctx) }()
		var err error
		select {
		case err = <-ping:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			http.Error(w, "not ready: the database does not answer", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// newHTTPServer bounds every phase of a request, so slow or idle clients cannot hold connections
// open: headers within 10s, a whole request within 30s, an answer within a minute (a /status of
// a big night included), an idle keep-alive connection for a minute.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// parseSchedule reads a cron schedule in tz (a CRON_TZ= or TZ= prefix in spec overrides tz) that
// fires at least once from now. The cron library panics on some malformed specs (a bare
// "CRON_TZ=UTC"): such a spec is a usage error like any other.
func parseSchedule(spec string, tz *time.Location, now time.Time) (sched cron.Schedule, err error) {
	defer func() {
		if p := recover(); p != nil {
			sched, err = nil, fmt.Errorf("CASHPOOL_SCHEDULE %q cannot be read: want five fields such as \"30 1 * * *\", optionally after CRON_TZ=<zone>", spec)
		}
	}()
	sched, err = cron.ParseStandard(withTZ(spec, tz.String()))
	if err != nil {
		return nil, fmt.Errorf("CASHPOOL_SCHEDULE %q: %w", spec, err)
	}
	if sched.Next(now).IsZero() {
		return nil, fmt.Errorf("CASHPOOL_SCHEDULE %q never fires", spec)
	}
	return sched, nil
}

func withTZ(spec, tz string) string {
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return spec
	}
	return "CRON_TZ=" + tz + " " + spec
}
