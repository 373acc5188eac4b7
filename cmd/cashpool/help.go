package main

import (
	"flag"
	"fmt"
	"strings"
)

// commandUsage is a command's --help: its line of the main usage, then its own flags.
func commandUsage(fs *flag.FlagSet) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: cashpool %s [flags]\n\n", fs.Name())
		if s := commandSummary(fs.Name()); s != "" {
			fmt.Fprintf(w, "%s\n\n", s)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			fmt.Fprintln(w, "No flags.")
			return
		}
		fmt.Fprintln(w, "Flags:")
		fs.PrintDefaults()
	}
}

// commandSummary is the command's entry in the main usage text (with its continuation lines), so
// the two never disagree.
func commandSummary(name string) string {
	var out []string
	for _, line := range strings.Split(usage, "\n") {
		switch {
		case strings.HasPrefix(line, "  "+name+" "):
			out = append(out, strings.TrimSpace(strings.TrimPrefix(line, "  "+name)))
		case len(out) > 0 && strings.HasPrefix(line, "              "):
			out = append(out, strings.TrimSpace(line))
		case len(out) > 0:
			return strings.Join(out, " ")
		}
	}
	return strings.Join(out, " ")
}
