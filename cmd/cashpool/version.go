package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/cashpool/cashpool/metrics"
)

// cmdVersion prints what this binary was built from, as the Go toolchain stamped it (`make build`
// stamps the commit; a build outside a clone has none to stamp).
func cmdVersion(args []string, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = commandUsage(fs)
	if err := fs.Parse(args); err != nil {
		return exitUsage, usageError{err}
	}
	if fs.NArg() > 0 {
		return exitUsage, usageError{fmt.Errorf("version takes no arguments, got %q", fs.Args())}
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return exitFailure, errors.New("this binary carries no build information")
	}
	writeVersion(stdout, info)
	return exitOK, nil
}

// buildFacts reads the build's settings, its module version ("(devel)" when none) and commit
// ("" when not stamped): what `cashpool version` prints and build info in metrics carries.
func buildFacts(info *debug.BuildInfo) (s map[string]string, version, commit string) {
	s = map[string]string{}
	for _, kv := range info.Settings {
		s[kv.Key] = kv.Value
	}
	version = info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	return s, version, s["vcs.revision"]
}

// metricsBuild is build info for metrics, from the same facts as `cashpool version`.
func metricsBuild() metrics.Build {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return metrics.Build{Version: "unknown", Revision: "unknown", GoVersion: "unknown"}
	}
	_, version, commit := buildFacts(info)
	return metrics.Build{Version: version, Revision: cmp.Or(commit, "unknown"), GoVersion: info.GoVersion}
}

// writeVersion prints one "name: value" line per fact, for people and for grep.
func writeVersion(w io.Writer, info *debug.BuildInfo) {
	s, version, commit := buildFacts(info)
	when, modified := s["vcs.time"], s["vcs.modified"]
	if commit == "" {
		commit, when, modified = "unknown (built without version control information)", "unknown", "unknown"
	}
	cgo := "off"
	if s["CGO_ENABLED"] == "1" {
		cgo = "on (the binary needs the C library it was linked with)"
	}
	fmt.Fprintf(w, "cashpool %s\n", version)
	fmt.Fprintf(w, "commit:       %s\n", commit)
	fmt.Fprintf(w, "commit time:  %s\n", when)
	fmt.Fprintf(w, "modified:     %s\n", modified)
	fmt.Fprintf(w, "go:           %s\n", info.GoVersion)
	fmt.Fprintf(w, "platform:     %s/%s\n", s["GOOS"], s["GOARCH"])
	fmt.Fprintf(w, "cgo:          %s\n", cgo)
}
