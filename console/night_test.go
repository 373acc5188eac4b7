package console_test

import (
	"context"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/fixtures"
)

func TestMain(m *testing.M) { schematest.Main(m) }

// sampleNight is the sample night of fixtures/ run against the simulator (over HTTP), as `cashpool
// demo` runs it: ingest, plan, submit, end of day at the broker, track, reconcile.
type sampleNight struct {
	db     *sqlx.DB
	sim    *sandbox.Server
	runner *batch.Runner
	date   string
}

func runSampleNight(t *testing.T) *sampleNight {
	t.Helper()
	ctx := t.Context()
	b, err := fixtures.FS.ReadFile("accounts.json")
	if err != nil {
		t.Fatal(err)
	}
	seed, err := sandbox.ParseSeed(b)
	if err != nil {
		t.Fatal(err)
	}
	sim := sandbox.New(sandbox.Options{Seed: seed, KeyID: "k", Secret: "s", StepEvery: 200 * time.Millisecond})
	broker := httptest.NewServer(sim)
	t.Cleanup(broker.Close)

	dir := t.TempDir()
	drop := filepath.Join(dir, "drop")
	if err := os.MkdirAll(drop, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fs.WalkDir(fixtures.FS, "drop", func(path string, d fs.DirEntry, err error) error {
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
		return os.WriteFile(filepath.Join(drop, d.Name()+".ready"), nil, 0o644)
	}); err != nil {
		t.Fatal(err)
	}

	db := schematest.DB(t)
	r := &batch.Runner{DB: db, Broker: alpaca.NewClient(alpaca.Options{BaseURL: broker.URL, KeyID: "k", Secret: "s"}),
		Config: batch.Config{SweepAccount: seed.SweepAccount, DropDir: drop, OutDir: filepath.Join(dir, "reports"), BankAccount: fixtures.BankAccount,
			Formats: []string{"html"}, JournalLimit: decimal.RequireFromString("10000.00"),
			TrackFor: 2 * time.Second, PollEvery: 200 * time.Millisecond}}
	n := &sampleNight{db: db, sim: sim, runner: r, date: fixtures.BusinessDate}
	if _, err := r.Ingest(ctx); err != nil {
		t.Fatal(err)
	}
	runID, err := r.Plan(ctx, n.date)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Submit(ctx, n.date, runID); err != nil {
		t.Fatal(err)
	}
	sim.EndOfDay()
	if err := r.Track(ctx, runID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, n.date); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %s", what, within)
		case <-tick.C:
		}
	}
}
