// Package crash holds the crash harness: it runs the real `cashpool run` binary as a child process
// against a real PostgreSQL and the Alpaca simulator over HTTP, kills it with SIGKILL at named
// failpoints (CASHPOOL_FAILPOINT, a test-only variable read only by a binary built with -tags
// failpoint, as this harness builds it) and at seeded points, restarts it, switches the simulator's faults
// on and restarts the simulator's listener, and after every night checks the simulator's own ledger:
// every allocation funded exactly once, nothing lost, totals balanced to the cent.
//
// `make test` runs a few seeds; `make soak SOAK=200` runs many. A failing seed reproduces with
// `go test ./batch/crash -run TestSoak -soak.seed=N`.
package crash
