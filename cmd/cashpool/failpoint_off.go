//go:build !failpoint

package main

// failpointFromEnv is nil in every binary not built with -tags failpoint: CASHPOOL_FAILPOINT, the
// crash harness's test-only variable, cannot kill a production process.
func failpointFromEnv() func(string) { return nil }
