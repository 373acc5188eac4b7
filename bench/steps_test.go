package bench_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A night's CPU by step: while `cashpool run` runs, the benchmark reads every process's CPU time
// (cashpool's, PostgreSQL's, the simulator's) and the machine's idle time a few times a second;
// afterwards the run's log says when each step ended, and the table gives each step's share. On two
// cores shared by all three, it tells a step that waits (cores idle) from one that computes, and
// whose computing it is.

// cpuSample is the CPU seconds used so far by each side of the night, and by the whole machine.
type cpuSample struct {
	at                time.Time
	run, pg, sim      float64
	machineBusy, idle float64 // the machine's CPU seconds, busy and idle, from /proc/stat
}

// sampleCPU reads a cpuSample every period until the returned function is called, which returns
// the samples, the last one taken at that call. run lists the cashpool processes of the night.
func sampleCPU(postmaster int, run []int, sim int, period time.Duration) func() []cpuSample {
	// take runs on one goroutine at a time: before the sampler starts, on it, and after it ended.
	var (
		samples []cpuSample
		seen    = map[int]float64{} // PostgreSQL's processes seen, their last CPU seconds
		ours    = map[int]float64{} // cashpool's and the simulator's, the same
	)
	take := func() {
		s := cpuSample{at: time.Now()}
		// A process that ended (cashpool's, once the night is over) counts with its last reading.
		for _, pid := range run {
			if st, err := readStat(pid); err == nil {
				ours[pid] = st.self
			}
			s.run += ours[pid]
		}
		if st, err := readStat(sim); err == nil {
			ours[sim] = st.self
		}
		s.sim = ours[sim]
		// So does a backend that ended: the postmaster's own count of its waited-for children lags.
		if pids, err := filepath.Glob("/proc/[0-9]*"); err == nil {
			for _, p := range pids {
				pid, err := strconv.Atoi(filepath.Base(p))
				if err != nil {
					continue
				}
				if st, err := readStat(pid); err == nil && (pid == postmaster || st.ppid == postmaster) {
					seen[pid] = st.self
				}
			}
		}
		for _, v := range seen {
			s.pg += v
		}
		s.machineBusy, s.idle = machineCPU()
		samples = append(samples, s)
	}
	take()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				take()
			}
		}
	}()
	return func() []cpuSample {
		close(stop)
		<-done
		take()
		return samples
	}
}

// machineCPU is the machine's CPU seconds since boot, busy and idle (iowait counted as idle).
func machineCPU() (busy, idle float64) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		} else if i < 8 { // user nice system (idle iowait) irq softirq steal; guest is in user
			busy += v
		}
	}
	return busy / userHZ, idle / userHZ
}

// at is the sample's values at time t, read linearly between the two samples around it.
func at(samples []cpuSample, t time.Time) cpuSample {
	if !t.After(samples[0].at) {
		return samples[0]
	}
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		if t.After(b.at) {
			continue
		}
		x := float64(t.Sub(a.at)) / float64(b.at.Sub(a.at))
		mix := func(u, v float64) float64 { return u + (v-u)*x }
		return cpuSample{at: t, run: mix(a.run, b.run), pg: mix(a.pg, b.pg), sim: mix(a.sim, b.sim),
			machineBusy: mix(a.machineBusy, b.machineBusy), idle: mix(a.idle, b.idle)}
	}
	return samples[len(samples)-1]
}

// nightStep is one step of a night: its name and when it ended.
type nightStep struct {
	name string
	end  time.Time
}

// The log messages that end each step of `cashpool run`, in order: the last file ingest loaded,
// plan's summary, submit's (every batch sent), tracking's (every journal final or its time up).
var stepEnds = []struct{ msg, step string }{
	{"ingest: file loaded", "ingest"}, {"plan", "plan"}, {"submit", "sending"}, {"track", "tracking's tail"},
}

var logLine = regexp.MustCompile(`^time=(\S+) level=\S+ msg=("(?:[^"\\]|\\.)*"|\S+)`)

// nightSteps reads a `cashpool run` log for the steps' ends; the report runs from tracking's end
// to end. It fails when a step's message is missing.
func nightSteps(logPath string, end time.Time) ([]nightStep, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	last := map[string]time.Time{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		m := logLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		msg := m[2]
		if u, err := strconv.Unquote(msg); err == nil {
			msg = u
		}
		last[msg] = t
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var steps []nightStep
	for _, s := range stepEnds {
		t, ok := last[s.msg]
		if !ok {
			return nil, fmt.Errorf("the log has no %q line", s.msg)
		}
		steps = append(steps, nightStep{s.step, t})
	}
	return append(steps, nightStep{"report", end}), nil
}

// stepTable is the night's CPU by step, from its start: each step's seconds, the share of the
// machine's CPU left idle, and the CPU seconds of cashpool, PostgreSQL and the simulator.
func stepTable(samples []cpuSample, start time.Time, steps []nightStep) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %7s %7s %8s %8s %8s\n", "step", "s", "idle%", "cpu_s", "pg_cpu_s", "sim_cpu_s")
	prev, from := at(samples, start), start
	var sum cpuSample
	for _, s := range steps {
		cur := at(samples, s.end)
		row := cpuSample{run: cur.run - prev.run, pg: cur.pg - prev.pg, sim: cur.sim - prev.sim,
			machineBusy: cur.machineBusy - prev.machineBusy, idle: cur.idle - prev.idle}
		fmt.Fprintf(&b, "%-16s %7.1f %7.0f %8.1f %8.1f %8.1f\n", s.name, s.end.Sub(from).Seconds(),
			idlePercent(row), row.run, row.pg, row.sim)
		sum.run, sum.pg, sum.sim = sum.run+row.run, sum.pg+row.pg, sum.sim+row.sim
		sum.machineBusy, sum.idle = sum.machineBusy+row.machineBusy, sum.idle+row.idle
		prev, from = cur, s.end
	}
	fmt.Fprintf(&b, "%-16s %7.1f %7.0f %8.1f %8.1f %8.1f\n", "night", from.Sub(start).Seconds(),
		idlePercent(sum), sum.run, sum.pg, sum.sim)
	return b.String()
}

func idlePercent(s cpuSample) float64 {
	if s.machineBusy+s.idle <= 0 {
		return 0
	}
	return 100 * s.idle / (s.machineBusy + s.idle)
}

// The night's steps are read from the log lines `cashpool run` writes (slog's text format), the
// last line of each message counting; a step whose line is missing fails the benchmark.
func TestNightSteps(t *testing.T) {
	log := `time=2026-12-03T08:31:24.180Z level=INFO msg="ingest: file loaded" file=receipts.csv
time=2026-12-03T08:31:28.824Z level=INFO msg="ingest: file loaded" file=allocations.csv
not a log line
time=2026-12-03T08:31:43.384Z level=INFO msg=plan journals=1000000
time=2026-12-03T08:32:13.401Z level=INFO msg="track progress" final=346994
time=2026-12-03T08:32:29.563Z level=INFO msg=submit batches_sent=2000
time=2026-12-03T08:32:48.957Z level=INFO msg=track changes=2000000
`
	path := filepath.Join(t.TempDir(), "run.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 12, 3, 8, 32, 51, 760_000_000, time.UTC)
	steps, err := nightSteps(path, end)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		end  string
	}{
		{"ingest", "08:31:28.824"}, {"plan", "08:31:43.384"}, {"sending", "08:32:29.563"},
		{"tracking's tail", "08:32:48.957"}, {"report", "08:32:51.760"},
	}
	if len(steps) != len(want) {
		t.Fatalf("steps %v, want %d", steps, len(want))
	}
	for i, w := range want {
		if got := steps[i].end.UTC().Format("15:04:05.000"); steps[i].name != w.name || got != w.end {
			t.Errorf("step %d: %s ending %s, want %s ending %s", i, steps[i].name, got, w.name, w.end)
		}
	}

	if err := os.WriteFile(path, []byte(strings.ReplaceAll(log, "msg=submit", "msg=other")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := nightSteps(path, end); err == nil || !strings.Contains(err.Error(), `"submit"`) {
		t.Errorf("a log without submit's line: %v, want an error naming it", err)
	}
}

// Each step's CPU is the difference of the samples around its ends, read linearly between two
// samples; the figures here are worked out by hand.
func TestStepTable(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	samples := []cpuSample{
		{at: sec(0), run: 10, pg: 100, sim: 1, machineBusy: 1000, idle: 500},
		{at: sec(2), run: 12, pg: 103, sim: 1, machineBusy: 1005, idle: 501},
		{at: sec(4), run: 13, pg: 107, sim: 3, machineBusy: 1012, idle: 502},
	}
	table := stepTable(samples, sec(0), []nightStep{{"plan", sec(1)}, {"sending", sec(4)}})
	lines := strings.Split(strings.TrimSpace(table), "\n")
	want := [][]string{
		{"step", "s", "idle%", "cpu_s", "pg_cpu_s", "sim_cpu_s"},
		// 0–1 s, half of the first interval: run +1, pg +1.5, sim 0, busy +2.5, idle +0.5: 17% idle.
		{"plan", "1.0", "17", "1.0", "1.5", "0.0"},
		// 1–4 s: run +2, pg +5.5, sim +2, busy +9.5, idle +1.5: 14% idle.
		{"sending", "3.0", "14", "2.0", "5.5", "2.0"},
		// 0–4 s: busy +12, idle +2.
		{"night", "4.0", "14", "3.0", "7.0", "2.0"},
	}
	if len(lines) != len(want) {
		t.Fatalf("table:\n%s", table)
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d: %q, want %q", i, got, w)
		}
	}
}
