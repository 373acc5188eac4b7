package main

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/fixtures"
	"github.com/cashpool/cashpool/metrics"
	"github.com/cashpool/cashpool/pgtemp"
	"github.com/cashpool/cashpool/reconcile"
)

// demoMarker marks a folder the demo created, so a later demo may clear it and nothing else.
const demoMarker = ".cashpool-demo"

// cmdDemo plays the sample night end to end: a throwaway PostgreSQL, the simulator in-process on a
// loopback port (reached only over HTTP, exactly as Alpaca would be), the fixtures' drop folder,
// then ingest → plan → submit → end of day at the broker → track → reconcile. It exits 0 when the
// report lists exactly the exceptions the sample is built to produce.
func cmdDemo(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) (int, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = commandUsage(fs)
	cfg, finish, err := loadConfig(flag.NewFlagSet("demo", flag.ContinueOnError), nil)
	if err != nil {
		return exitUsage, usageError{err}
	}
	out := fs.String("out", cfg.OutDir, "folder for the demo's drop folder and report (CASHPOOL_OUT_DIR)")
	trackFor := fs.Duration("track-for", 3*time.Second, "how long journals are followed before pending counts as stuck")
	serveAfter := fs.Bool("serve", false, "after the night, keep its database and the simulator up and run serve (console, metrics, health) on CASHPOOL_HTTP_ADDR until interrupted")
	if err := fs.Parse(args); err != nil {
		return exitUsage, usageError{err}
	}
	// serve's settings (address, schedule, zone, console) are checked before the night, not after.
	if *serveAfter {
		if err := finish(); err != nil {
			return exitUsage, usageError{err}
		}
	}
	stdout, progress := terminalProgress(stdout)
	start := time.Now()
	step := func(format string, a ...any) {
		fmt.Fprintf(stdout, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}

	dir := filepath.Join(*out, "demo")
	if err := freshDemoDir(dir); err != nil {
		return exitFailure, err
	}
	drop := filepath.Join(dir, "drop")
	if err := copyDrop(drop); err != nil {
		return exitFailure, err
	}
	step("drop folder %s holds the sample files", drop)

	cluster, err := pgtemp.Start(ctx)
	if err != nil {
		return exitFailure, fmt.Errorf("start a throwaway PostgreSQL: %w", err)
	}
	defer cluster.Stop()
	db, err := schema.Open(ctx, cluster.URL("postgres"))
	if err != nil {
		return exitFailure, err
	}
	defer db.Close()
	if _, err := schema.Migrate(ctx, db.DB); err != nil {
		return exitFailure, err
	}
	step("throwaway PostgreSQL started and migrated")

	seed, err := loadSeed("")
	if err != nil {
		return exitFailure, err
	}
	secret := randomSecret()
	sim := sandbox.New(sandbox.Options{Seed: seed, KeyID: "demo", Secret: secret, StepEvery: 200 * time.Millisecond})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return exitFailure, err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())
	brokerURL := "http://" + l.Addr().String()
	step("Alpaca simulator listening on %s (sweep account %s)", brokerURL, seed.SweepAccount)

	m := metrics.New(metricsBuild())
	client := alpaca.NewClient(alpaca.Options{BaseURL: brokerURL, KeyID: "demo", Secret: secret,
		HTTPClient: &http.Client{Transport: m.Broker(alpaca.NewTransport())}, OnRateLimitWait: m.RateLimitWait, Logger: logger})
	reports := filepath.Join(dir, "reports")
	r := &batch.Runner{DB: db, Broker: client, Config: batch.Config{
		SweepAccount: seed.SweepAccount, DropDir: drop, OutDir: reports, BankAccount: fixtures.BankAccount,
		Formats: []string{"csv", "json", "html"}, JournalLimit: decimal.RequireFromString("10000.00"),
		TrackFor: *trackFor, PollEvery: 250 * time.Millisecond, Logger: logger, Observer: m,
		Progress: progress,
	}}
	date := fixtures.BusinessDate

	ing, err := r.Ingest(ctx)
	if err != nil {
		return exitFailure, err
	}
	printIngest(stdout, ing)
	step("ingest done")
	runID, err := r.Plan(ctx, date)
	if err != nil {
		return exitFailure, err
	}
	step("plan done: run %d for %s", runID, date)
	if err := r.Submit(ctx, date, runID); err != nil {
		return exitFailure, err
	}
	step("submit done: %d calls to the broker so far", client.Calls())
	sim.EndOfDay()
	step("simulator: end of day at the broker (sandbox fixtures resolve; over-limit journals wait for the next day)")
	if err := r.Track(ctx, runID); err != nil {
		return exitFailure, err
	}
	step("track done: %d calls to the broker in all", client.Calls())
	outcome, err := r.Reconcile(ctx, date)
	if err != nil {
		return exitFailure, err
	}
	step("reconcile done")
	fmt.Fprintln(stdout)
	printOutcome(stdout, outcome)
	fmt.Fprintf(stdout, "drop folder after the night: %s (archive/, rejected/)\n", drop)

	if diff := compareExpected(outcome.Report); diff != "" {
		fmt.Fprintf(stdout, "\nThe night did NOT come out as the sample intends:\n%s", diff)
		return exitFailure, errors.New("demo outcome differs from fixtures/expected-exceptions.csv")
	}
	fmt.Fprintf(stdout, "\nThe night came out exactly as the sample intends (%d exceptions, totals balanced) in %.1fs.\n",
		len(outcome.Report.Exceptions), time.Since(start).Seconds())
	if !*serveAfter {
		return exitOK, nil
	}
	// serve itself, against the demo's database, simulator, drop folder and reports: what an
	// operator would run, with nothing to start by hand. Its schedule and drop-folder scans go on.
	cfg.SweepAccount, cfg.DropDir, cfg.OutDir, cfg.BankAccount = seed.SweepAccount, drop, reports, fixtures.BankAccount
	fmt.Fprintf(stdout, "\nConsole, metrics and health on http://%s/ (the sample night is %s/nights/%s); Ctrl-C stops it and throws the demo's database away.\n",
		cfg.HTTPAddr, "http://"+cfg.HTTPAddr, date)
	return serve(ctx, r, cfg, m, stdout, logger)
}

func freshDemoDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return fmt.Errorf("%s exists and was not made by the demo; choose another --out", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), nil, 0o644)
}

func copyDrop(drop string) error {
	if err := os.MkdirAll(drop, 0o755); err != nil {
		return err
	}
	return fs.WalkDir(fixtures.FS, "drop", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fixtures.FS.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(drop, d.Name()), b, 0o644); err != nil {
			return err
		}
		// The marker tells ingest the file is complete (see README, "Drop folder").
		return os.WriteFile(filepath.Join(drop, d.Name()+".ready"), nil, 0o644)
	})
}

func randomSecret() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// compareExpected returns "" when the report's exceptions are exactly those listed in
// fixtures/expected-exceptions.csv, else a readable difference.
func compareExpected(r *reconcile.Report) string {
	f, err := fixtures.FS.Open("expected-exceptions.csv")
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return err.Error()
	}
	want := map[string]int{}
	for _, row := range rows[1:] {
		want[strings.Join(row, ",")]++
	}
	got := map[string]int{}
	for _, e := range r.Exceptions {
		got[exceptionKey(e)]++
	}
	var diff []string
	for k, n := range want {
		if got[k] < n {
			diff = append(diff, "  missing:    "+k)
		}
	}
	for k, n := range got {
		if want[k] < n {
			diff = append(diff, "  unexpected: "+k)
		}
	}
	if !r.Totals.Balanced {
		diff = append(diff, "  totals do not balance: "+strings.Join(r.Totals.Problems, "; "))
	}
	sort.Strings(diff)
	if len(diff) == 0 {
		return ""
	}
	return strings.Join(diff, "\n") + "\n"
}

// exceptionKey is how fixtures/expected-exceptions.csv names an exception: kind, receipt, client
// reference, reward, and the file only for a rejected file.
func exceptionKey(e reconcile.Exception) string {
	file := ""
	if e.Kind == reconcile.KindRejectedFile {
		file = e.File
	}
	return strings.Join([]string{e.Kind, e.ReceiptID, e.ClientRef, e.RewardID, file}, ",")
}
