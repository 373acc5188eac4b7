package bench_test

import (
	"bufio"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/pgtemp"
)

const (
	sweep         = "8f8c8cee-2591-4f83-be12-82c659b5e748"
	keyID, secret = "bench-key", "bench-secret"
	perReceipt    = 10     // allocations per wire: 7 amounts and 3 weights
	customers     = 20_000 // accounts the night's journals go to, the same for every size
)

var (
	sizes      = flag.String("night.journals", "100000,1000000", "the nights to run, in journals, comma separated")
	cpuProfile = flag.String("night.cpuprofile", "", "write a CPU profile of each night's `cashpool run` to this file (the size appended), and the simulator's to this file with .sim before the size")
	keepLog    = flag.String("night.log", "", "copy each night's `cashpool run` log (and its workers') to this file (the size appended)")
	processes  = flag.Int("night.processes", 1, "with 2 or more, each size runs twice: `cashpool run` alone, then with `cashpool work` processes joining it (this many processes in all)")
)

// BenchmarkNight runs one whole night of each size (100,000 and 1,000,000 journals) through
// `cashpool run` and prints a table of the figures beside plain `psql \copy` and the floor script:
//
//	go test ./bench -run '^$' -bench Night -benchtime 1x -timeout 180m [-night.journals 100000]
func BenchmarkNight(b *testing.B) {
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n%perReceipt != 0 {
			b.Fatalf("-night.journals %q: want multiples of %d, comma separated", *sizes, perReceipt)
		}
		ns = append(ns, n)
	}
	procs := []int{1}
	if *processes > 1 {
		procs = append(procs, *processes)
	}
	bin := buildCashpool(b)
	var rows []figures
	for _, n := range ns {
		for _, p := range procs {
			name := fmt.Sprintf("journals=%d", n)
			if len(procs) > 1 {
				name += fmt.Sprintf("/processes=%d", p)
			}
			b.Run(name, func(b *testing.B) {
				for range b.N {
					f := runNight(b, bin, n, p)
					f.report(b)
					fmt.Println(tableHeader)
					fmt.Println(f.line())
					fmt.Println(f.callsLine())
					fmt.Print(f.steps)
					rows = append(rows, f)
				}
			})
		}
	}
	if len(rows) > 0 {
		fmt.Printf("\nnight benchmark, PostgreSQL with fsync, synchronous_commit and full_page_writes on, %s; %s\n",
			strings.Join(pgtemp.DurableSettings, " "), sharedMemory(rows[0].hugeMB))
		fmt.Println(tableHeader)
		for _, f := range rows {
			fmt.Println(f.line())
		}
	}
}

// figures are one night's measurements.
type figures struct {
	journals           int
	processes          int // cashpool processes that shared the night: `run` and the `work` beside it
	night, copy, flr   time.Duration
	rssMB, simRSSMB    float64
	cpu, simCPU, pgCPU float64 // seconds of CPU: cashpool, the simulator, PostgreSQL's processes
	walBytes, dbBytes  int64
	calls              map[string]int // by method and route, as the simulator counted them
	retries            []string       // the calls cashpool's log says it retried, and why
	steps              string         // the night's CPU by step (stepTable), for a night of one process
	hugeMB             int64          // MB of PostgreSQL's shared memory in huge pages, -1 not known
}

// sharedMemory says how PostgreSQL's shared memory was mapped: a night's figures depend on it
// (README, Benchmarks).
func sharedMemory(hugeMB int64) string {
	switch {
	case hugeMB > 0:
		return fmt.Sprintf("shared memory in huge pages (%d MB)", hugeMB)
	case hugeMB < 0:
		return "shared memory in pages of a size not known (the server's memory map could not be read)"
	}
	return "shared memory in 4 KB pages (no huge pages were free: vm.nr_hugepages, see README)"
}

const tableHeader = "journals     night_s  psql_copy_s  floor_s  night/floor  night/copy  rss_MB  sim_rss_MB  WAL_B/journal  calls/1000  db_MB  cpu_s  pg_cpu_s  sim_cpu_s"

func (f figures) totalCalls() int {
	t := 0
	for _, c := range f.calls {
		t += c
	}
	return t
}

func (f figures) line() string {
	label := strconv.Itoa(f.journals)
	if f.processes > 1 {
		label += fmt.Sprintf(" x%d", f.processes)
	}
	return fmt.Sprintf("%-11s %8.1f %12.2f %8.1f %12.1f %11.0f %7.0f %11.0f %14.0f %11.1f %6.0f %6.1f %9.1f %10.1f",
		label, f.night.Seconds(), f.copy.Seconds(), f.flr.Seconds(), f.night.Seconds()/f.flr.Seconds(),
		f.night.Seconds()/f.copy.Seconds(), f.rssMB, f.simRSSMB, float64(f.walBytes)/float64(f.journals),
		float64(f.totalCalls())*1000/float64(f.journals), float64(f.dbBytes)/(1<<20), f.cpu, f.pgCPU, f.simCPU)
}

func (f figures) callsLine() string {
	keys := make([]string, 0, len(f.calls))
	for k := range f.calls {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, f.calls[k])
	}
	line := fmt.Sprintf("broker calls, %d journals: %s", f.journals, strings.Join(parts, ", "))
	if len(f.retries) > 0 {
		line += fmt.Sprintf("; %d retried: %s", len(f.retries), strings.Join(f.retries, ", "))
	}
	return line
}

func (f figures) report(b *testing.B) {
	b.ReportMetric(f.night.Seconds(), "night_s")
	b.ReportMetric(f.copy.Seconds(), "psql_copy_s")
	b.ReportMetric(f.flr.Seconds(), "floor_s")
	b.ReportMetric(f.night.Seconds()/f.flr.Seconds(), "night/floor")
	b.ReportMetric(f.rssMB, "rss_MB")
	b.ReportMetric(f.simRSSMB, "sim_rss_MB")
	b.ReportMetric(float64(f.walBytes)/float64(f.journals), "wal_B/journal")
	b.ReportMetric(float64(f.totalCalls())*1000/float64(f.journals), "calls/1000")
	b.ReportMetric(f.cpu, "cpu_s")
	b.ReportMetric(f.pgCPU, "pg_cpu_s")
	b.ReportMetric(f.simCPU, "sim_cpu_s")
}

// runNight measures one night of n journals on a cluster of its own, sent by procs cashpool
// processes: `cashpool run` and procs-1 `cashpool work` joining it. Their CPU seconds add up, and
// rss_MB is the largest one's.
func runNight(b *testing.B, bin string, n, procs int) figures {
	f := figures{journals: n, processes: procs}
	dir := b.TempDir()
	progress := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "night %d: %s\n", n, fmt.Sprintf(format, args...))
	}

	cl, err := pgtemp.StartDurable(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cl.Stop() })
	if f.hugeMB, err = cl.SharedHugeMB(); err != nil {
		f.hugeMB = -1 // not known: the figures say so
		progress("PostgreSQL's memory map: %v", err)
	}
	progress("PostgreSQL with %s; %s", strings.Join(cl.Settings(), " "), sharedMemory(f.hugeMB))
	admin := openDB(b, cl.URL("postgres"))
	for _, name := range []string{"night", "copy", "floor"} {
		if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
			b.Fatal(err)
		}
	}

	date := time.Now().UTC().Format(time.DateOnly)
	gen := generate(b, dir, n, date)
	drop := filepath.Join(dir, "drop")
	if err := os.Mkdir(drop, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, p := range []string{gen.receipts, gen.allocations} {
		name := filepath.Join(drop, filepath.Base(p))
		if err := os.Link(p, name); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(name+".ready", nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, db := range []string{"night", "copy"} {
		if out, err := cashpool(bin, cl.URL(db), "", dir, "migrate").CombinedOutput(); err != nil {
			b.Fatalf("cashpool migrate: %v\n%s", err, out)
		}
	}

	simProfile := ""
	if *cpuProfile != "" {
		simProfile = fmt.Sprintf("%s.sim.%d", *cpuProfile, n)
	}
	sim := startSandbox(b, bin, dir, gen.seed, simProfile)

	// Each measured step starts from a checkpoint: none pays for writing back the dirty pages, or
	// the WAL-driven checkpoint, of the step before it (the floor ran slower after a big night).
	checkpoint(b, admin)
	progress("cashpool run")
	postmaster := postmasterPID(b, admin)
	lsn0, pgCPU0 := walLSN(b, admin), treeCPU(b, postmaster)
	run := cashpool(bin, cl.URL("night"), sim.url, dir, "run", "--date", date)
	// A size's files are FILE.<journals>, FILE.<journals>.x<processes> for a night of several.
	suffix := fmt.Sprintf(".%d", n)
	if procs > 1 {
		suffix += fmt.Sprintf(".x%d", procs)
	}
	if *cpuProfile != "" {
		run.Env = append(run.Env, "CASHPOOL_CPUPROFILE="+*cpuProfile+suffix)
	}
	logPath := filepath.Join(dir, "run.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	run.Stdout, run.Stderr = logFile, logFile
	// The workers start first: each waits for the night to be opened for sending.
	var workers []*exec.Cmd
	for i := 1; i < procs; i++ {
		w := cashpool(bin, cl.URL("night"), sim.url, dir, "work", "--date", date)
		w.Stdout, w.Stderr = logFile, logFile
		if err := w.Start(); err != nil {
			b.Fatal(err)
		}
		workers = append(workers, w)
	}
	t0 := time.Now()
	var samples []cpuSample
	if err = run.Start(); err == nil {
		pids := []int{run.Process.Pid}
		for _, w := range workers {
			pids = append(pids, w.Process.Pid)
		}
		stopSampling := sampleCPU(postmaster, pids, sim.cmd.Process.Pid, 250*time.Millisecond)
		err = run.Wait()
		samples = stopSampling()
	}
	for _, w := range workers {
		if werr := w.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("cashpool work: %w", werr)
		}
	}
	f.night = time.Since(t0)
	logFile.Close()
	if *keepLog != "" {
		if runLog, err := os.ReadFile(logPath); err == nil {
			_ = os.WriteFile(*keepLog+suffix, runLog, 0o644)
		}
	}
	if err != nil {
		runLog, _ := os.ReadFile(logPath)
		b.Fatalf("cashpool run: %v (a benchmark of a failed night measures nothing)\n%s", err, tail(string(runLog), 4000))
	}
	if err := admin.QueryRow(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint`, lsn0).Scan(&f.walBytes); err != nil {
		b.Fatal(err)
	}
	f.pgCPU = treeCPU(b, postmaster) - pgCPU0
	for _, p := range append(workers, run) {
		f.rssMB = max(f.rssMB, float64(p.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)/1024)
		f.cpu += (p.ProcessState.UserTime() + p.ProcessState.SystemTime()).Seconds()
	}
	f.retries = retriesIn(b, logPath)
	if procs == 1 { // several processes write one log: their steps' lines interleave
		steps, err := nightSteps(logPath, t0.Add(f.night))
		if err != nil {
			b.Fatalf("the night's steps: %v", err)
		}
		f.steps = stepTable(samples, t0, steps)
	}
	// The simulator's peak and CPU before the checks below ask it for its whole ledger at once.
	f.simRSSMB = sim.peakRSSMB(b)
	f.simCPU = procCPU(b, sim.cmd.Process.Pid).self
	f.calls = brokerCalls(b, sim.url)
	progress("night %.1fs, checking the report and the simulator's ledger", f.night.Seconds())
	checkTotals(b, filepath.Join(dir, "out", date, "totals.csv"), n, gen.total)
	checkLedger(b, sim.url, n, gen.total)
	sim.stop(b)
	if err := admin.QueryRow(`SELECT pg_database_size('night')`).Scan(&f.dbBytes); err != nil {
		b.Fatal(err)
	}

	checkpoint(b, admin)
	progress("psql \\copy")
	f.copy = psqlCopy(b, cl, gen.allocations)
	checkpoint(b, admin)
	progress("floor")
	f.flr = runFloor(b, cl, gen.allocations, n)
	return f
}

// buildCashpool builds the binary under test once for every size.
func buildCashpool(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "cashpool")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/cashpool").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cashpool is the command `cashpool args...` configured as an operator would: through the
// environment only, markers on every file (so no settle pause), defaults for everything else.
func cashpool(bin, dbURL, brokerURL, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(),
		"DATABASE_URL="+dbURL, "APCA_API_KEY_ID="+keyID, "APCA_API_SECRET_KEY="+secret,
		"CASHPOOL_SWEEP_ACCOUNT="+sweep, "CASHPOOL_DROP_DIR="+filepath.Join(dir, "drop"),
		"CASHPOOL_OUT_DIR="+filepath.Join(dir, "out"), "CASHPOOL_TZ=UTC",
		"CASHPOOL_REQUIRE_READY=true", "CASHPOOL_SETTLE_FOR=0s",
		// A night that does not finish within the hour fails the benchmark instead of waiting 6h.
		"CASHPOOL_TRACK_FOR=1h")
	if brokerURL != "" {
		cmd.Env = append(cmd.Env, "APCA_BROKER_URL="+brokerURL)
	}
	return cmd
}

// cleanEnv is this process's environment without any setting of cashpool's, so that nothing of the
// machine's configuration leaks into a measured night.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CASHPOOL_") && !strings.HasPrefix(kv, "APCA_") && !strings.HasPrefix(kv, "DATABASE_URL") {
			env = append(env, kv)
		}
	}
	return env
}

// night is a generated night: its files and the money it must move.
type night struct {
	seed, receipts, allocations string
	total                       decimal.Decimal // every receipt is allocated whole
}

// generate writes n allocations (perReceipt per wire, amounts and weights mixed, to customers
// random accounts) with their receipts, and the simulator's seed that knows those accounts. The
// same n always gives the same files.
func generate(b *testing.B, dir string, n int, date string) night {
	rng := rand.New(rand.NewPCG(uint64(n), 11))
	accounts := make([]string, customers)
	for i := range accounts {
		accounts[i] = randomUUID(rng)
	}
	g := night{seed: filepath.Join(dir, "seed.json"), receipts: filepath.Join(dir, "receipts-bench.csv"),
		allocations: filepath.Join(dir, "allocations-bench.csv")}

	type account struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Firm   bool   `json:"firm"`
	}
	seed := struct {
		SweepAccount string    `json:"sweep_account"`
		SweepCash    string    `json:"sweep_cash"`
		Accounts     []account `json:"accounts"`
	}{SweepAccount: sweep, SweepCash: "900000000000.00", Accounts: []account{{sweep, "ACTIVE", true}}}
	for _, a := range accounts {
		seed.Accounts = append(seed.Accounts, account{a, "ACTIVE", false})
	}
	sb, err := json.Marshal(seed)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(g.seed, sb, 0o644); err != nil {
		b.Fatal(err)
	}

	rf, rw := createCSV(b, g.receipts, "receipt_id", "value_date", "amount", "currency", "originator_name",
		"originator_account", "originator_bank", "originator_address", "reference")
	af, aw := createCSV(b, g.allocations, "receipt_id", "account_id", "amount", "weight", "client_ref", "description")
	weights := []string{"0.5", "1", "1.25", "2", "3.3333333333", "5", "9"}
	for r := range n / perReceipt {
		id := fmt.Sprintf("W%08d", r+1)
		sum := decimal.Zero
		weighted := rng.Perm(perReceipt)[:3] // which rows carry weights
		for a := range perReceipt {
			amount, weight := "", ""
			if slices.Contains(weighted, a) {
				weight = weights[rng.IntN(len(weights))]
			} else {
				d := decimal.New(int64(100+rng.IntN(500_000)), -2) // 1.00 .. 5000.99
				sum = sum.Add(d)
				amount = d.StringFixed(2)
			}
			aw.Write([]string{id, accounts[rng.IntN(len(accounts))], amount, weight,
				fmt.Sprintf("C%08d-%02d", r+1, a), "Payroll funding " + id})
		}
		// What the amounts leave, at least 300.00, is split over the weights: every share is
		// well above a cent, so every allocation is one journal.
		total := sum.Add(decimal.New(int64(30_000+rng.IntN(1_000_000)), -2))
		g.total = g.total.Add(total)
		rw.Write([]string{id, date, total.StringFixed(2), "USD", "Originator " + id, fmt.Sprintf("ACC%010d", r),
			"First Bank NA", "1 Main St, New York, NY 10001, US", "FUNDING " + id})
	}
	for _, c := range []struct {
		f *os.File
		w *csv.Writer
	}{{rf, rw}, {af, aw}} {
		c.w.Flush()
		if err := c.w.Error(); err != nil {
			b.Fatal(err)
		}
		if err := c.f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return g
}

func createCSV(b *testing.B, path string, header ...string) (*os.File, *csv.Writer) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := csv.NewWriter(bufio.NewWriterSize(f, 1<<20))
	w.Write(header)
	return f, w
}

// randomUUID is a version 4 UUID in the lower-case form Alpaca and PostgreSQL print.
func randomUUID(rng *rand.Rand) string {
	var u [16]byte
	for i := range u {
		u[i] = byte(rng.Uint32())
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// sandbox is `cashpool sandbox` running as a child process, so that its memory is its own.
type sandbox struct {
	cmd *exec.Cmd
	url string
}

var listening = regexp.MustCompile(`http://(127\.0\.0\.1:[0-9]+)`)

func startSandbox(b *testing.B, bin, dir, seed, profile string) *sandbox {
	cmd := exec.Command(bin, "sandbox", "--addr", "127.0.0.1:0", "--seed", seed)
	cmd.Env = append(cleanEnv(), "APCA_API_KEY_ID="+keyID, "APCA_API_SECRET_KEY="+secret)
	if profile != "" { // written when it stops, after the night's checks: they are in it too
		cmd.Env = append(cmd.Env, "CASHPOOL_CPUPROFILE="+profile)
	}
	logFile, err := os.Create(filepath.Join(dir, "sandbox.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &sandbox{cmd: cmd}
	b.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		logFile.Close()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-time.After(time.Minute):
		b.Fatal("cashpool sandbox did not say where it listens within a minute")
	}
	return s
}

// peakRSSMB is the simulator's peak resident memory so far (VmHWM, what its rusage will report).
func (s *sandbox) peakRSSMB(b *testing.B) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}

func (s *sandbox) stop(b *testing.B) {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			b.Fatalf("cashpool sandbox: %v", err)
		}
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		b.Fatal("cashpool sandbox did not stop within a minute of an interrupt")
	}
}

// brokerCalls asks the simulator for the calls its Alpaca API was asked, by route, the oracle of
// broker calls that stands apart from cashpool's own metrics. A route's wildcard is written {id}
// ("GET /v1/journals/{id}", "GET /v1/accounts/{id}"), as the calls line always showed them.
func brokerCalls(b *testing.B, simURL string) map[string]int {
	req, err := http.NewRequest(http.MethodGet, simURL+"/sandbox/v1/calls", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.SetBasicAuth(keyID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("calls: %s", resp.Status)
	}
	var byRoute map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&byRoute); err != nil {
		b.Fatal(err)
	}
	calls := make(map[string]int, len(byRoute))
	for route, n := range byRoute {
		calls[wildcard.ReplaceAllString(route, "{id}")] += n
	}
	return calls
}

var wildcard = regexp.MustCompile(`\{[a-z_]+\}`)

// retriesIn are the broker calls cashpool's log says it retried (a transport error, an answer cut
// off, a 5xx or a 429), each as the log line's message and fields.
func retriesIn(b *testing.B, logPath string) []string {
	raw, err := os.ReadFile(logPath)
	if err != nil {
		b.Fatal(err)
	}
	var retries []string
	for _, l := range strings.Split(string(raw), "\n") {
		if i := strings.Index(l, `msg="broker: `); i >= 0 && strings.Contains(l, "retrying") {
			retries = append(retries, l[i:])
		}
	}
	return retries
}

// checkTotals holds the report's totals to the generated night: every journal executed, the
// receipts' money funded to the cent, balanced.
func checkTotals(b *testing.B, path string, n int, total decimal.Decimal) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		b.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		if len(r) == 2 {
			got[r[0]] = r[1]
		}
	}
	want := map[string]string{"balanced": "true", "journals": strconv.Itoa(n), "executed_count": strconv.Itoa(n),
		"receipts": total.StringFixed(2), "executed": total.StringFixed(2), "in_flight_count": "0", "failed_count": "0"}
	for k, v := range want {
		if got[k] != v {
			b.Fatalf("totals.csv %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// checkLedger holds the simulator's own books to the generated night: n journals from the sweep
// account, each executed, each a different cashpool key, together the receipts' money.
func checkLedger(b *testing.B, simURL string, n int, total decimal.Decimal) {
	req, err := http.NewRequest(http.MethodGet, simURL+"/sandbox/v1/ledger", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.SetBasicAuth(keyID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("ledger: %s", resp.Status)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 1<<20))
	if _, err := dec.Token(); err != nil {
		b.Fatal(err)
	}
	keys := make(map[string]bool, n)
	sum, count := decimal.Zero, 0
	for dec.More() {
		var e struct {
			FromAccount string          `json:"from_account"`
			Amount      decimal.Decimal `json:"amount"`
			Status      string          `json:"status"`
			Description string          `json:"description"`
		}
		if err := dec.Decode(&e); err != nil {
			b.Fatal(err)
		}
		count++
		if e.FromAccount != sweep || (e.Status != "executed" && e.Status != "activity_created") {
			b.Fatalf("ledger journal from %s is %s, want executed from the sweep account", e.FromAccount, e.Status)
		}
		key := e.Description[strings.LastIndex(e.Description, " ")+1:]
		if keys[key] {
			b.Fatalf("ledger: %s funded twice", key)
		}
		keys[key] = true
		sum = sum.Add(e.Amount)
	}
	if count != n || !sum.Equal(total) {
		b.Fatalf("ledger: %d journals of %s, want %d of %s", count, sum.StringFixed(2), n, total.StringFixed(2))
	}
}

// psqlCopy times plain `psql \copy` of the allocations file into a table shaped as the project's
// allocations table (its columns, checks and unique constraint) in a database of its own. The
// columns the file does not carry (which file, which line) get constant defaults.
func psqlCopy(b *testing.B, cl *pgtemp.Cluster, path string) time.Duration {
	db := openDB(b, cl.URL("copy"))
	if _, err := db.Exec(`CREATE TABLE copied (LIKE allocations INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	header, err := firstLine(path)
	if err != nil {
		b.Fatal(err)
	}
	rows, err := db.Query(`SELECT column_name, data_type FROM information_schema.columns
		WHERE table_name = 'copied' AND is_nullable = 'NO' AND column_default IS NULL
		AND is_identity = 'NO' AND is_generated = 'NEVER' AND NOT column_name = ANY (string_to_array($1, ','))`, header)
	if err != nil {
		b.Fatal(err)
	}
	defaults := map[string]string{"bigint": "0", "integer": "0", "smallint": "0", "numeric": "0", "text": "''",
		"timestamp with time zone": "now()", "date": "current_date", "boolean": "false"}
	var alters []string
	for rows.Next() {
		var col, typ string
		if err := rows.Scan(&col, &typ); err != nil {
			b.Fatal(err)
		}
		d, ok := defaults[typ]
		if !ok {
			b.Fatalf("allocations.%s is %s, NOT NULL and not in the file: give it a default here", col, typ)
		}
		alters = append(alters, fmt.Sprintf("ALTER COLUMN %s SET DEFAULT %s", col, d))
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	if len(alters) > 0 {
		if _, err := db.Exec(`ALTER TABLE copied ` + strings.Join(alters, ", ")); err != nil {
			b.Fatal(err)
		}
	}
	cmd := psql(b, cl, "copy", path, "-c",
		fmt.Sprintf(`\copy copied (%s) from pstdin with (format csv, header true)`, header))
	t0 := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("psql \\copy: %v\n%s", err, out)
	}
	return time.Since(t0)
}

// runFloor times floor.sql on the night's allocations file and checks it did the whole night's work.
func runFloor(b *testing.B, cl *pgtemp.Cluster, path string, n int) time.Duration {
	cmd := psql(b, cl, "floor", path, "-v", "n="+strconv.Itoa(n), "-f", "floor.sql")
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(t0)
	if err != nil {
		b.Fatalf("floor.sql: %v\n%s", err, tail(string(out), 4000))
	}
	want := fmt.Sprintf("floor executed=%d history=%d", n, 3*n)
	if !strings.Contains(string(out), want) {
		b.Fatalf("floor.sql did not do the night's work: want %q in\n%s", want, tail(string(out), 4000))
	}
	return took
}

// psql runs the cluster's psql on database db with the file at stdin as its standard input.
func psql(b *testing.B, cl *pgtemp.Cluster, db, stdin string, args ...string) *exec.Cmd {
	f, err := os.Open(stdin)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	cmd := exec.Command(cl.Bin("psql"), append([]string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", cl.URL(db)}, args...)...)
	cmd.Stdin = f
	cmd.Env = cleanEnv()
	return cmd
}

func firstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	l, err := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSpace(l), err
}

func openDB(b *testing.B, u string) *sql.DB {
	db, err := sql.Open("postgres", u)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// checkpoint writes every dirty page back and starts the WAL's count towards the next checkpoint anew.
func checkpoint(b *testing.B, db *sql.DB) {
	if _, err := db.Exec(`CHECKPOINT`); err != nil {
		b.Fatal(err)
	}
}

func walLSN(b *testing.B, db *sql.DB) string {
	var lsn string
	if err := db.QueryRow(`SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		b.Fatal(err)
	}
	return lsn
}

// postmasterPID is the PostgreSQL server's main process: the parent of db's backend.
func postmasterPID(b *testing.B, db *sql.DB) int {
	var backend int
	if err := db.QueryRow(`SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		b.Fatal(err)
	}
	return procCPU(b, backend).ppid
}

// procStat is what the benchmark reads of /proc/PID/stat: the parent, the CPU seconds of the
// process and of its children that have exited and been waited for.
type procStat struct {
	state          byte
	ppid           int
	self, children float64
}

// userHZ is the unit of /proc's CPU times, fixed at 100 by the kernel's ABI.
const userHZ = 100

func procCPU(b *testing.B, pid int) procStat {
	st, err := readStat(pid)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

func readStat(pid int) (procStat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces: state is
	// field 3, ppid 4, utime 14, stime 15, cutime 16, cstime 17.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	num := func(field int) float64 {
		v, _ := strconv.ParseFloat(f[field-3], 64)
		return v
	}
	return procStat{state: f[0][0], ppid: int(num(4)), self: (num(14) + num(15)) / userHZ, children: (num(16) + num(17)) / userHZ}, nil
}

// treeCPU is the CPU seconds PostgreSQL has used so far: the server's main process, every
// backend and worker it has waited for, and those still running. A backend that ends while the
// children are read (as the night's do when cashpool exits) would be counted by neither the main
// process's total nor its own: the read is taken again until no child ended meanwhile and none is
// ended but not yet waited for.
func treeCPU(b *testing.B, postmaster int) float64 {
	deadline := time.Now().Add(time.Minute)
	for {
		pm := procCPU(b, postmaster)
		total, exiting := pm.self+pm.children, false
		pids, err := filepath.Glob("/proc/[0-9]*")
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pids {
			pid, err := strconv.Atoi(filepath.Base(p))
			if err != nil {
				continue
			}
			if st, err := readStat(pid); err == nil && st.ppid == postmaster { // one may end meanwhile
				total += st.self
				exiting = exiting || st.state == 'Z'
			}
		}
		if again := procCPU(b, postmaster); !exiting && again.children == pm.children {
			return total
		}
		if time.Now().After(deadline) {
			b.Fatal("PostgreSQL's processes kept ending for a minute: its CPU time cannot be read")
		}
		time.Sleep(10 * time.Millisecond) // until the server has waited for the backends that ended
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
