package main

import (
	"runtime/debug"
	"testing"
)

// The pipeline's commands collect at gcPercent under a soft memory limit; the simulator keeps Go's
// pace; GOGC and GOMEMLIMIT, when set, decide. (Not parallel: the settings are the process's.)
func TestPaceGC(t *testing.T) {
	pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(pct); debug.SetMemoryLimit(limit) })
	const noLimit = int64(^uint64(0) >> 1)
	for _, c := range []struct {
		name           string
		args           []string
		gogc, gomemlim string
		wantPct        int
		wantLimit      int64
	}{
		{"run", []string{"run"}, "", "", 400, 80 << 20},
		{"sandbox", []string{"sandbox"}, "", "", 100, noLimit},
		{"GOGC set", []string{"run"}, "150", "", 100, 80 << 20},
		{"GOMEMLIMIT set", []string{"work"}, "", "1GiB", 400, noLimit},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOGC", c.gogc)
			t.Setenv("GOMEMLIMIT", c.gomemlim)
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(noLimit)
			paceGC(c.args)
			// SetGCPercent and SetMemoryLimit return the setting they replace.
			if got := debug.SetGCPercent(100); got != c.wantPct {
				t.Errorf("GC percent %d, want %d", got, c.wantPct)
			}
			if got := debug.SetMemoryLimit(noLimit); got != c.wantLimit {
				t.Errorf("memory limit %d, want %d", got, c.wantLimit)
			}
		})
	}
}
