package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// newLogger is every command's logger, to stderr: CASHPOOL_LOG_FORMAT text (default) or json (one
// object a line, for a log collector), CASHPOOL_LOG_LEVEL debug, info (default), warn or error.
// A value it does not know is a usage error: logs silently in the wrong shape are lost logs.
func newLogger(w io.Writer) (*slog.Logger, error) {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	name := strings.ToLower(strings.TrimSpace(envDefault("CASHPOOL_LOG_LEVEL", "info")))
	l, ok := level[name]
	if !ok {
		return nil, fmt.Errorf("CASHPOOL_LOG_LEVEL %q: want debug, info, warn or error", os.Getenv("CASHPOOL_LOG_LEVEL"))
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format := strings.ToLower(strings.TrimSpace(envDefault("CASHPOOL_LOG_FORMAT", "text"))); format {
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
