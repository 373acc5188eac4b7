package batch_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/fixtures"
)

// Everything that can be checked before the first POST is checked before anything is ingested,
// planned or sent: the report folder, the credentials, the sweep account and its status.
func TestChecksBeforeMoneyMoves(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		spoil func(t *testing.T, b *bundle)
		want  string
	}{
		{"unwritable report folder", func(t *testing.T, b *bundle) {
			// A file where the folder should be: no write permission check that root would bypass.
			out := filepath.Join(t.TempDir(), "out")
			if err := os.WriteFile(out, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			b.runner.Config.OutDir = out
		}, "report folder"},
		{"bad credentials", func(t *testing.T, b *bundle) {
			b.runner.Broker = alpaca.NewClient(alpaca.Options{BaseURL: b.simURL, KeyID: "k", Secret: "wrong-secret", Now: b.clock.Now})
		}, "refused the credentials"},
		{"unknown sweep account", func(t *testing.T, b *bundle) {
			b.runner.Config.SweepAccount = "0f0f0f0f-0000-4000-8000-000000000000"
		}, "has no account 0f0f0f0f-0000-4000-8000-000000000000"},
		{"inactive sweep account", func(t *testing.T, b *bundle) {
			b.sim.SetAccount(sandbox.Account{ID: b.runner.Config.SweepAccount, Status: "INACTIVE", Firm: true})
		}, "is INACTIVE at the broker"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			c.spoil(t, b)
			_, err := b.runner.Run(context.Background(), fixtures.BusinessDate)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was sent") {
				t.Fatalf("run: %v, want an error saying %q and that nothing was sent", err, c.want)
			}
			if !errors.Is(err, batch.ErrNotReady) {
				t.Errorf("run: %v does not wrap ErrNotReady (exit 2)", err)
			}
			if strings.Contains(err.Error(), "wrong-secret") {
				t.Errorf("the error shows the secret: %v", err)
			}
			if n := len(b.sim.Ledger()); n != 0 {
				t.Errorf("%d journals at the broker, want none", n)
			}
			var runs, files int
			if err := b.db.Get(&runs, `SELECT count(*) FROM runs`); err != nil {
				t.Fatal(err)
			}
			if err := b.db.Get(&files, `SELECT count(*) FROM files`); err != nil {
				t.Fatal(err)
			}
			if runs != 0 || files != 0 {
				t.Errorf("%d runs planned and %d files taken before the checks, want none", runs, files)
			}
		})
	}
}
