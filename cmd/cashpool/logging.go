package main

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/caarlos0/env/v11"
)

// newLogger is every command's logger, to stderr: CASHPOOL_LOG_FORMAT text (default) or json (one
// object a line, for a log collector), CASHPOOL_LOG_LEVEL debug, info (default), warn or error.
// A value it does not know is a usage error: logs silently in the wrong shape are lost logs.
func newLogger(w io.Writer) (*slog.Logger, error) {
	// Read before the command's own configuration, so that its problems are logged in this shape;
	// the other settings' errors are loadConfig's to report.
	c := defaultConfig()
	_ = env.ParseWithOptions(&c, env.Options{Environment: env.ToMap(os.Environ())})
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	name := strings.ToLower(strings.TrimSpace(cmp.Or(c.LogLevel, LogLevelDefault)))
	l, ok := level[name]
	if !ok {
		return nil, fmt.Errorf("CASHPOOL_LOG_LEVEL %q: want debug, info, warn or error", os.Getenv("CASHPOOL_LOG_LEVEL"))
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format := strings.ToLower(strings.TrimSpace(cmp.Or(c.LogFormat, LogFormatDefault))); format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("CASHPOOL_LOG_FORMAT %q: want text or json", os.Getenv("CASHPOOL_LOG_FORMAT"))
	}
}

// withRunID marks every line of one run (one command, or one night of serve) with the same new id,
// so the lines of a night can be picked out of a log shared by many.
func withRunID(l *slog.Logger) *slog.Logger {
	b := make([]byte, 8)
	rand.Read(b)
	return l.With("run_id", hex.EncodeToString(b))
}
