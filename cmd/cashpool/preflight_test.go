package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// `cashpool run` with credentials the broker refuses stops before it takes a file: exit 2, a clear
// message without the secret, nothing at the broker.
func TestRunRefusedCredentialsExitTwoBeforeAnything(t *testing.T) {
	seed, err := loadSeed("")
	if err != nil {
		t.Fatal(err)
	}
	sim := sandbox.New(sandbox.Options{Seed: seed, KeyID: "k", Secret: "s"})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	const wrong = "wrong-secret-never-printed"
	for k, v := range map[string]string{
		"DATABASE_URL": schematest.URL(t), "APCA_BROKER_URL": srv.URL, "APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": wrong,
		"CASHPOOL_SWEEP_ACCOUNT": seed.SweepAccount, "CASHPOOL_DROP_DIR": t.TempDir(), "CASHPOOL_OUT_DIR": t.TempDir(),
	} {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--date", "2026-11-20"}, &stdout, &stderr)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, stdout.String(), stderr.String())
	}
	all := stdout.String() + stderr.String()
	if !strings.Contains(all, "refused the credentials") || !strings.Contains(all, "APCA_API_SECRET_KEY") {
		t.Errorf("the message does not say the credentials were refused:\n%s", all)
	}
	if strings.Contains(all, wrong) {
		t.Errorf("the secret was printed:\n%s", all)
	}
	if n := len(sim.Ledger()); n != 0 {
		t.Errorf("%d journals at the broker, want none", n)
	}
}
