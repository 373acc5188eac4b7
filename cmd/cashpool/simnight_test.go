package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// simNight is a night of the command line against the simulator: the files a test drops, ready,
// in a drop folder of its own, and the environment `cashpool` reads pointed at a fresh database,
// the simulator (a step every 20 ms) and a report folder of its own.
type simNight struct {
	seed      sandbox.Seed
	sim       *sandbox.Server
	dbURL     string
	drop, out string
}

// newSimNight drops files and sets the environment, with env added to it (or overriding it).
func newSimNight(t *testing.T, files, env map[string]string) *simNight {
	t.Helper()
	seed, err := loadSeed("")
	if err != nil {
		t.Fatal(err)
	}
	n := &simNight{seed: seed, dbURL: schematest.URL(t), drop: t.TempDir(), out: t.TempDir()}
	n.sim = sandbox.New(sandbox.Options{Seed: seed, KeyID: "k", Secret: "s", StepEvery: 20 * time.Millisecond})
	ts := httptest.NewServer(n.sim)
	t.Cleanup(ts.Close)
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(n.drop, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(n.drop, name+".ready"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{
		"DATABASE_URL": n.dbURL, "APCA_BROKER_URL": ts.URL, "APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s",
		"CASHPOOL_SWEEP_ACCOUNT": seed.SweepAccount, "CASHPOOL_DROP_DIR": n.drop, "CASHPOOL_OUT_DIR": n.out,
		"CASHPOOL_TRACK_FOR": "60s", "CASHPOOL_POLL_EVERY": "50ms", "CASHPOOL_SETTLE_FOR": "0s",
	}
	for k, v := range env {
		vars[k] = v
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	return n
}

// receiptsCSVHeader is the receipts file's header row.
const receiptsCSVHeader = "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\n"

// cashpool runs the command line with args and fails the test unless it exits with want; it
// returns what it printed.
func cashpool(t *testing.T, want int, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != want {
		t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String()
}
