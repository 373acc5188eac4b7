package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/fixtures"
)

// cmdSandbox serves the Alpaca journals simulator. Credentials come from APCA_API_KEY_ID and
// APCA_API_SECRET_KEY, the same variables cashpool uses to call it.
func cmdSandbox(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) (int, error) {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = commandUsage(fs)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address HOST:PORT")
	seedPath := fs.String("seed", "", "seed file of accounts, cash and limits (default: the embedded fixtures/accounts.json)")
	step := fs.Duration("step", time.Second, "how long a journal stays queued, then sent_to_clearing")
	rate := fs.Int("rate-limit", 0, "calls per minute before 429 (0: unlimited)")
	if err := fs.Parse(args); err != nil {
		return exitUsage, usageError{err}
	}
	seed, err := loadSeed(*seedPath)
	if err != nil {
		return exitUsage, usageError{err}
	}
	cfg, _, err := loadConfig(flag.NewFlagSet("sandbox", flag.ContinueOnError), nil)
	if err != nil {
		return exitUsage, usageError{err}
	}
	keyID, secret := cfg.KeyID, cfg.Secret
	if keyID == "" || secret == "" {
		return exitUsage, usageError{errors.New("set APCA_API_KEY_ID and APCA_API_SECRET_KEY: the simulator requires HTTP Basic auth like Alpaca")}
	}
	sim := sandbox.New(sandbox.Options{Seed: seed, KeyID: keyID, Secret: secret, StepEvery: *step, RateLimit: *rate})
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return exitFailure, err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	fmt.Fprintf(stdout, "Alpaca journals simulator on http://%s (sweep account %s)\n", l.Addr(), seed.SweepAccount)
	logger.Info("sandbox listening", "addr", l.Addr().String())
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return exitFailure, err
	}
	return exitOK, nil
}

func loadSeed(path string) (sandbox.Seed, error) {
	if path != "" {
		return sandbox.LoadSeed(path)
	}
	b, err := fixtures.FS.ReadFile("accounts.json")
	if err != nil {
		return sandbox.Seed{}, err
	}
	return sandbox.ParseSeed(b)
}
