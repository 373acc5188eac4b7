package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
)

// gcPercent is the pace of Go's collector for the pipeline's commands: a night's live heap is a
// few MB and nearly all it allocates (decoded answers and events, rows read) dies young, so
// collecting at 5x the live heap instead of 2x gives up some tens of MB and saves a third of
// cashpool's CPU on a night (README, Benchmarks). The simulator holds a night's ledger live and
// keeps Go's default; GOGC, when set, decides for every command.
const gcPercent = 400

// memoryLimit is the soft limit of the Go runtime's memory for the same commands: at 5x the live
// heap a collection can come late on a loaded machine (a 1M night's peak went from ~105 to ~120
// MB), and near this limit the collector runs sooner instead. It is soft: a live heap above it
// still gets its memory, at the price of more collecting. GOMEMLIMIT, when set, decides.
const memoryLimit = 80 << 20

// paceGC sets gcPercent and memoryLimit for every command but the simulator's, unless GOGC and
// GOMEMLIMIT are set.
func paceGC(args []string) {
	if len(args) > 0 && args[0] == "sandbox" {
		return
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

// profileCPU writes a CPU profile of the whole command to path when CASHPOOL_CPUPROFILE names one
// (the night benchmark's -night.cpuprofile; README, Benchmarks); stop ends it. Nothing else changes.
func profileCPU() (stop func()) {
	path := os.Getenv("CASHPOOL_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cashpool: CASHPOOL_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
