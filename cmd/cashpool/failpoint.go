//go:build failpoint

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// failpointFromEnv lets the crash harness (batch/crash, which builds the binary with -tags
// failpoint) kill the process where state was just persisted:
// CASHPOOL_FAILPOINT=after-plan kills it at the first after-plan, after-store:3 at the third
// after-store, any:7 at the seventh failpoint of any name. Unset, failpoints cost nothing.
func failpointFromEnv() func(string) {
	spec := os.Getenv("CASHPOOL_FAILPOINT")
	if spec == "" {
		return nil
	}
	name, nth := spec, 1
	if i := strings.LastIndex(spec, ":"); i >= 0 {
		if n, err := strconv.Atoi(spec[i+1:]); err == nil && n > 0 {
			name, nth = spec[:i], n
		}
	}
	var mu sync.Mutex
	hits := 0
	return func(point string) {
		if name != "any" && point != name {
			return
		}
		mu.Lock()
		hits++
		kill := hits == nth
		mu.Unlock()
		if kill {
			fmt.Fprintf(os.Stderr, "cashpool: failpoint %s (hit %d): killing the process\n", point, nth)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // SIGKILL is on its way; never return into the code after the failpoint
		}
	}
}
