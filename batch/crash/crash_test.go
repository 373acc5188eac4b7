package crash_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/pool"
)

var (
	soakN    = flag.Int("soak.n", 3, "number of seeded nights")
	soakSeed = flag.Uint64("soak.seed", 0, "run only this seed")
)

func TestMain(m *testing.M) { schematest.Main(m) }

const (
	sweep = "8f8c8cee-2591-4f83-be12-82c659b5e748"
	date  = "2026-11-20"
)

var points = []string{"after-ingest", "plan-journals-written", "after-plan", "before-post", "after-post", "after-store",
	"before-jnls-post", "after-jnls-post", "after-jnls-store", "after-submit", "after-track-pass", "after-track", "any"}

// workerPoints are the failpoints a `cashpool work` passes: those of sending, and those of the
// tracking it shares (a worker killed there leaves parts whose lease the run waits out).
var workerPoints = []string{"before-post", "after-post", "after-store", "before-jnls-post", "after-jnls-post", "after-jnls-store",
	"after-track-pass"}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/cashpool once per test process: the harness kills the real program.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cashpool-crash-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "cashpool")
		out, err := exec.Command("go", "build", "-tags", "failpoint", "-o", binPath, "../../cmd/cashpool").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// night is one seeded set of input files, the money each allocation must receive and the shares
// each reward must give.
type night struct {
	receipts, allocations, rewards string
	want                           map[string]want // rewards by journal key
	cash                           map[string]want // allocations by receipt_id/client_ref
	total                          decimal.Decimal
}

// want is what one journal key must move at the broker: amount, or qty of symbol for a reward.
// A reward with refused set is one the rewards account cannot give (no shares): never given.
type want struct {
	account string
	amount  decimal.Decimal
	symbol  string
	qty     decimal.Decimal
	refused bool
}

// held are the rewards account's shares in the harness's simulator; a reward of a symbol it holds
// none of is refused (403).
var held = map[string]decimal.Decimal{"AAPL": decimal.NewFromInt(1000), "MSFT": decimal.NewFromInt(1000), "TSLA": decimal.Zero}

func account(n int) string { return fmt.Sprintf("c0000000-0000-4000-8000-0000000000%02d", n) }

func makeNight(rng *rand.Rand) night {
	n := night{want: map[string]want{}, cash: map[string]want{}}
	var rb, ab bytes.Buffer
	rw, aw := csv.NewWriter(&rb), csv.NewWriter(&ab)
	rw.Write([]string{"receipt_id", "value_date", "amount", "currency", "originator_name", "originator_account", "originator_bank", "originator_address", "reference"})
	aw.Write([]string{"receipt_id", "account_id", "amount", "weight", "client_ref", "description"})
	receipts := 2 + rng.IntN(3)
	for r := range receipts {
		id := fmt.Sprintf("W%04d", 1000+r)
		allocs := 3 + rng.IntN(12)
		sum := decimal.Zero
		for a := range allocs {
			amt := decimal.New(int64(1+rng.IntN(900_000)), -2) // 0.01 .. 9000.00, under the journal limit
			acct := account(1 + rng.IntN(30))
			ref := fmt.Sprintf("%s-%03d", id, a)
			aw.Write([]string{id, acct, amt.StringFixed(2), "", ref, "harness"})
			n.cash[id+"/"+ref] = want{account: acct, amount: amt}
			sum = sum.Add(amt)
		}
		n.total = n.total.Add(sum)
		rw.Write([]string{id, date, sum.StringFixed(2), "USD", "Originator " + id, "ACC-" + id, "Bank", "1 Main St", "ref"})
	}
	rw.Flush()
	aw.Flush()
	n.receipts, n.allocations = rb.String(), ab.String()

	var wb bytes.Buffer
	ww := csv.NewWriter(&wb)
	ww.Write([]string{"reward_id", "account_id", "symbol", "qty", "reason", "description"})
	symbols := []string{"AAPL", "MSFT", "AAPL", "MSFT", "TSLA"}
	for r := range 1 + rng.IntN(8) {
		id := fmt.Sprintf("REF-%03d", r)
		sym := symbols[rng.IntN(len(symbols))]
		qty := decimal.New(int64(1+rng.IntN(5000)), -3) // 0.001 .. 5.000 shares
		acct := account(1 + rng.IntN(30))
		ww.Write([]string{id, acct, sym, qty.String(), "referral", "harness"})
		n.want[pool.RewardJournalKey(sweep, date, id, 1)] = want{account: acct, symbol: sym, qty: qty, refused: held[sym].IsZero()}
	}
	ww.Flush()
	n.rewards = wb.String()
	return n
}

// simServer is the simulator on a fixed loopback address that the harness can stop and start
// again, as Alpaca's endpoint going away and coming back: its books survive, connections do not.
type simServer struct {
	sim  *sandbox.Server
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func (s *simServer) start(t *testing.T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err = net.Listen("tcp", s.addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // the port is released asynchronously by the kernel
	}
	if err != nil {
		t.Fatalf("restart simulator: %v", err)
	}
	s.addr = l.Addr().String()
	s.srv = &http.Server{Handler: s.sim}
	go s.srv.Serve(l)
}

func (s *simServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv.Close()
}

func TestSoak(t *testing.T) {
	seeds := make([]uint64, 0, *soakN)
	if *soakSeed != 0 {
		seeds = append(seeds, *soakSeed)
	} else {
		for i := range *soakN {
			seeds = append(seeds, uint64(i+1))
		}
	}
	var mu sync.Mutex
	var dup, lost, unbalanced, kills int
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			r := soakOne(t, seed)
			mu.Lock()
			dup += r.duplicates
			lost += r.lost
			unbalanced += r.unbalanced
			kills += r.kills
			mu.Unlock()
		})
	}
	t.Cleanup(func() {
		t.Logf("soak: %d nights, %d kills, %d duplicates, %d lost journals, %d unbalanced totals",
			len(seeds), kills, dup, lost, unbalanced)
	})
}

type result struct{ duplicates, lost, unbalanced, kills int }

// prepare is one seeded night: the binary, a database, the night's files in a drop folder, the
// simulator with faults, and the environment of a cashpool process against them.
func prepare(t *testing.T, rng *rand.Rand, faults sandbox.Faults) (bin, dbURL string, n night, sim *simServer, env []string) {
	bin = binary(t)
	dbURL = schematest.URL(t)
	n = makeNight(rng)

	seedAccounts := sandbox.Seed{SweepAccount: sweep, SweepCash: decimal.RequireFromString("100000000.00"),
		JournalLimit: decimal.RequireFromString("10000.00"),
		Accounts:     []sandbox.Account{{ID: sweep, Status: "ACTIVE", Firm: true}},
		Positions:    map[string]map[string]decimal.Decimal{sweep: held}}
	for i := 1; i <= 30; i++ {
		seedAccounts.Accounts = append(seedAccounts.Accounts, sandbox.Account{ID: account(i), Status: "ACTIVE"})
	}
	sim = &simServer{sim: sandbox.New(sandbox.Options{Seed: seedAccounts, KeyID: "k", Secret: "s",
		StepEvery: 5 * time.Millisecond, Faults: faults}), addr: "127.0.0.1:0"}
	sim.start(t)
	t.Cleanup(sim.stop)

	dir := t.TempDir()
	drop := filepath.Join(dir, "drop")
	os.MkdirAll(drop, 0o755)
	for name, body := range map[string]string{"receipts-1.csv": n.receipts, "allocations-1.csv": n.allocations, "rewards-1.csv": n.rewards} {
		os.WriteFile(filepath.Join(drop, name), []byte(body), 0o644)
		os.WriteFile(filepath.Join(drop, name+".ready"), nil, 0o644)
	}
	env = append(os.Environ(),
		"DATABASE_URL="+dbURL, "APCA_API_KEY_ID=k", "APCA_API_SECRET_KEY=s",
		"CASHPOOL_SWEEP_ACCOUNT="+sweep, "CASHPOOL_DROP_DIR="+drop, "CASHPOOL_OUT_DIR="+filepath.Join(dir, "out"),
		"CASHPOOL_TRACK_FOR=60s", "CASHPOOL_POLL_EVERY=20ms", "CASHPOOL_SETTLE_FOR=0s", "CASHPOOL_TZ=UTC")
	return bin, dbURL, n, sim, env
}

func soakOne(t *testing.T, seed uint64) result {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	faults := sandbox.Faults{Seed: seed}
	if seed%2 == 0 { // every other night with the broker misbehaving
		faults.ErrorRate, faults.LoseResponseRate, faults.ResetRate = 0.1, 0.15, 0.05
		faults.Latency, faults.Jitter = time.Millisecond, 5*time.Millisecond
		faults.StreamDropRate, faults.StreamDuplicateRate, faults.StreamReorderRate = 0.05, 0.05, 0.05
		faults.StreamSlowReaderRate = 0.02
		faults.StreamBareRate = 0.3 // events found by Alpaca's id beside those found by our key token
	}
	bin, dbURL, n, sim, env := prepare(t, rng, faults)
	env = append(env, "CASHPOOL_BATCH_SIZE="+fmt.Sprint(3+rng.IntN(6)), "CASHPOOL_MAX_IN_FLIGHT="+fmt.Sprint(1+rng.IntN(4)))
	// Every third night has a `cashpool work` beside each attempt of the run, killed at a seeded
	// failpoint of its own, or when the attempt ends. Its choices come from a generator of its own,
	// so that every seed's night and run stay what they were.
	withWorker := seed%3 == 0
	wrng := rand.New(rand.NewPCG(seed, 0x3017))
	if withWorker {
		env = append(env, "CASHPOOL_CLAIM_LEASE=1s")
	}

	var res result
	var log strings.Builder
	done := false
	for attempt := 0; attempt < 40 && !done; attempt++ {
		fp := ""
		if attempt < 12 && rng.IntN(5) != 0 {
			// A named point at its first or second hit, or "any" at a seeded hit among all of
			// them: the seeded random moment.
			p := points[rng.IntN(len(points))]
			hit := 1 + rng.IntN(2)
			if p == "any" {
				hit = 1 + rng.IntN(20)
			}
			fp = fmt.Sprintf("%s:%d", p, hit)
		}
		restartMidRun := rng.IntN(6) == 0
		var work *exec.Cmd
		var workOut bytes.Buffer
		wfp := ""
		if withWorker {
			if wrng.IntN(3) != 0 {
				wfp = fmt.Sprintf("%s:%d", workerPoints[wrng.IntN(len(workerPoints))], 1+wrng.IntN(3))
			}
			work = exec.Command(bin, "work", "--date", date)
			work.Env = append(env, "APCA_BROKER_URL=http://"+sim.addr, "CASHPOOL_FAILPOINT="+wfp)
			work.Stdout, work.Stderr = &workOut, &workOut
			if err := work.Start(); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(bin, "run", "--date", date)
		cmd.Env = append(env, "APCA_BROKER_URL=http://"+sim.addr, "CASHPOOL_FAILPOINT="+fp)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if restartMidRun {
			go func() {
				time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
				sim.stop()
				time.Sleep(100 * time.Millisecond)
				sim.start(t)
			}()
		}
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled():
			res.kills++
			code = -1
		case errors.As(err, &ee):
			code = ee.ExitCode()
		default:
			t.Fatal(err)
		}
		fmt.Fprintf(&log, "attempt %d failpoint=%q restart=%v exit=%d\n%s\n", attempt, fp, restartMidRun, code, tail(out.String(), 1500))
		if work != nil {
			// Whatever it is doing (waiting, sending, done), the worker ends with the attempt.
			work.Process.Kill()
			werr := work.Wait()
			fmt.Fprintf(&log, "  worker failpoint=%q: %v\n%s\n", wfp, werr, tail(workOut.String(), 800))
		}
		done = code == 0 || code == 3
	}
	if !done {
		t.Fatalf("seed %d: the night never finished\n%s", seed, log.String())
	}

	res.add(checkBooks(t, seed, sim.sim, n, dbURL))
	if t.Failed() {
		t.Logf("seed %d history:\n%s", seed, log.String())
	}
	return res
}

func (r *result) add(o result) {
	r.duplicates += o.duplicates
	r.lost += o.lost
	r.unbalanced += o.unbalanced
	r.kills += o.kills
}

// checkBooks holds the night to the broker's books: every intended journal funded exactly once, a
// reward the rewards account cannot give never given, nothing unintended; and the run's totals
// balanced to the night's money.
func checkBooks(t *testing.T, seed uint64, sim *sandbox.Server, n night, dbURL string) result {
	t.Helper()
	var res result
	db, err := schema.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// An allocation's journal key names its id, which ingest gave it: the key each allocation of
	// the night must be funded under is made from the id its row got.
	var loaded []struct {
		ID        int64  `db:"id"`
		ReceiptID string `db:"receipt_id"`
		ClientRef string `db:"client_ref"`
	}
	if err := db.Select(&loaded, `SELECT id, receipt_id, client_ref FROM allocations`); err != nil {
		t.Fatal(err)
	}
	wants := maps.Clone(n.want)
	for _, a := range loaded {
		if w, ok := n.cash[a.ReceiptID+"/"+a.ClientRef]; ok {
			wants[pool.JournalKey(sweep, date, a.ID, 1)] = w
		}
	}
	if len(wants) != len(n.want)+len(n.cash) {
		t.Fatalf("seed %d: %d of the night's %d allocations loaded", seed, len(wants)-len(n.want), len(n.cash))
	}
	// The books that count are the broker's.
	live := map[string]int{}
	for _, e := range sim.Ledger() {
		key, ok := pool.TokenFromDescription(e.Description)
		w, planned := wants[key]
		if !ok || !planned {
			t.Errorf("seed %d: broker journal %s was never intended: %q", seed, e.ID, e.Description)
			res.duplicates++
			continue
		}
		if alpaca.Failed(e.Status) {
			continue
		}
		live[key]++
		if e.EntryType == "JNLS" {
			if e.ToAccount != w.account || e.Symbol != w.symbol || !e.Qty.Equal(w.qty) || e.FromAccount != sweep {
				t.Errorf("seed %d: broker JNLS %s gives %s %s to %s, intended %s %s to %s", seed, e.ID, e.Qty, e.Symbol, e.ToAccount, w.qty, w.symbol, w.account)
			}
		} else if e.ToAccount != w.account || !e.Amount.Equal(w.amount) || e.FromAccount != sweep {
			t.Errorf("seed %d: broker journal %s moves %s to %s, intended %s to %s", seed, e.ID, e.Amount, e.ToAccount, w.amount, w.account)
		}
		if !alpaca.Funded(e.Status) {
			t.Errorf("seed %d: broker journal %s ended %s, want executed", seed, e.ID, e.Status)
		}
	}
	for key, w := range wants {
		switch {
		case w.refused && live[key] == 0:
		case w.refused:
			res.duplicates += live[key]
			t.Errorf("seed %d: reward with key %s given %d times, though the rewards account holds no %s", seed, key, live[key], w.symbol)
		case live[key] == 1:
		case live[key] == 0:
			res.lost++
			t.Errorf("seed %d: allocation or reward with key %s was never funded", seed, key)
		default:
			res.duplicates += live[key] - 1
			t.Errorf("seed %d: allocation or reward with key %s funded %d times", seed, key, live[key])
		}
	}
	var totals struct {
		Balanced bool   `db:"balanced"`
		Executed string `db:"executed"`
	}
	if err := db.Get(&totals, `SELECT (totals->>'balanced')::bool AS balanced, totals->>'executed' AS executed FROM runs`); err != nil {
		t.Fatal(err)
	}
	if !totals.Balanced || !decimal.RequireFromString(totals.Executed).Equal(n.total) {
		res.unbalanced++
		t.Errorf("seed %d: totals balanced=%v executed=%s, want %s", seed, totals.Balanced, totals.Executed, n.total.StringFixed(2))
	}
	return res
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestWorkerKilledMidNight: a `cashpool work` process joins a `cashpool run` of the same night and
// is killed right after its first POST, whose answer it never stored, its claim on that batch left behind.
// The run finishes the night alone once the claim runs out: every journal funded exactly once,
// none lost, the totals balanced.
func TestWorkerKilledMidNight(t *testing.T) {
	t.Parallel()
	const seed = 7
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	// Each POST takes a while, so that the night is still sending when the worker joins it.
	bin, dbURL, n, sim, env := prepare(t, rng, sandbox.Faults{Seed: seed, Latency: 60 * time.Millisecond})
	env = append(env, "APCA_BROKER_URL=http://"+sim.addr, "CASHPOOL_BATCH_SIZE=1", "CASHPOOL_MAX_IN_FLIGHT=1",
		"CASHPOOL_CLAIM_LEASE=1s")

	// A night that never finishes (a batch left to a dead worker forever) fails rather than hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The worker starts first and waits for the night to be opened for sending.
	work := exec.CommandContext(ctx, bin, "work", "--date", date)
	work.Env = append(env, "CASHPOOL_FAILPOINT=after-post:1")
	var workOut, runOut bytes.Buffer
	work.Stdout, work.Stderr = &workOut, &workOut
	if err := work.Start(); err != nil {
		t.Fatal(err)
	}
	run := exec.CommandContext(ctx, bin, "run", "--date", date)
	run.Env = env
	run.Stdout, run.Stderr = &runOut, &runOut
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	workErr, runErr := work.Wait(), run.Wait()

	var ee *exec.ExitError
	if !errors.As(workErr, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
		t.Errorf("the worker was not killed at its first POST (it sent nothing of the night?): %v\n%s", workErr, tail(workOut.String(), 3000))
	}
	if runErr != nil && !(errors.As(runErr, &ee) && ee.ExitCode() == 3) {
		t.Fatalf("cashpool run did not finish the night: %v\n%s", runErr, tail(runOut.String(), 3000))
	}
	if r := checkBooks(t, seed, sim.sim, n, dbURL); r != (result{}) {
		t.Errorf("books: %+v\nworker:\n%s\nrun:\n%s", r, tail(workOut.String(), 3000), tail(runOut.String(), 3000))
	}
}
