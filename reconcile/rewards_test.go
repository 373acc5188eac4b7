package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/reconcile"
)

// reward inserts a loaded reward of qty shares of symbol and returns its id.
func (f *fixture) reward(id, symbol, qty string) string {
	f.t.Helper()
	f.line++
	f.exec(`INSERT INTO rewards (reward_id,file_id,line,account_id,symbol,qty,reason,description)
		VALUES ($1,$2,$3,$4,$5,$6,'signup','welcome')`, id, f.fileID, f.line, account2, symbol, qty)
	return id
}

// rewardJournal inserts attempt of the JNLS journal giving reward id qty shares, in status, with
// the batch that is its one POST.
func (f *fixture) rewardJournal(id, symbol, qty string, attempt int, status, message string) {
	f.t.Helper()
	alpacaID := "gen_random_uuid()"
	if status == "planned" {
		alpacaID = "NULL"
	}
	batchID := f.insert(`INSERT INTO batches (run_id,seq,idempotency_key,body,entries,status,entry_type)
		VALUES ($1,gen_random_uuid()::text,gen_random_uuid(),'{}',1,'sent','JNLS') RETURNING id`, f.runID)
	f.exec(`INSERT INTO journals (run_id,batch_id,journal_key,entry_type,reward_id,symbol,qty,attempt,to_account,
		description,alpaca_id,status,status_unknown,error_message,updated_at)
		VALUES ($1,$2,gen_random_uuid(),'JNLS',$3,$4,$5,$6,$7,'welcome',`+alpacaID+`,$8,$9,$10,now())`,
		f.runID, batchID, id, symbol, qty, attempt, account2, status, !knownStatus(status), message)
}

// refusedAtPlan inserts the journal plan writes for a reward it refuses before any POST: refused,
// with no batch and no Alpaca id.
func (f *fixture) refusedAtPlan(id, symbol, qty, message string) {
	f.t.Helper()
	f.exec(`INSERT INTO journals (run_id,journal_key,entry_type,reward_id,symbol,qty,attempt,to_account,
		description,status,error_message,updated_at)
		VALUES ($1,gen_random_uuid(),'JNLS',$2,$3,$4,1,$5,'welcome','refused',$6,now())`,
		f.runID, id, symbol, qty, sweep, message)
}

// rewardsNight is a night of one funded cash journal and rewards in every outcome.
func rewardsNight(t *testing.T) *fixture {
	f := setup(t, &deadline)
	f.receipt("R1", "100.00", "100.00", false, "")
	f.journal(0, journal{receiptID: "R1", clientRef: "cash", amount: "100.00", status: "executed"})
	for _, w := range []struct{ id, symbol, qty, status, message string }{
		{"RW-1", "AAPL", "1.5", "executed", ""},
		{"RW-2", "AAPL", "2", "refused", "The amount requested to move is not available."},
		{"RW-3", "AAPL", "0.25", "queued", ""},
		{"RW-4", "TSLA", "3", "executed", ""},
		{"RW-5", "TSLA", "0.000000001", "rejected", "manually rejected"},
		{"RW-6", "VTI", "4", "planned", ""},
	} {
		f.reward(w.id, w.symbol, w.qty)
		f.rewardJournal(w.id, w.symbol, w.qty, 1, w.status, w.message)
	}
	// A reward naming the sweep account, refused by plan.
	f.reward("RW-8", "VTI", "2")
	f.refusedAtPlan("RW-8", "VTI", "2", "reward RW-8 is to the sweep account itself, not a customer account")
	// A reward re-driven: only its second attempt counts.
	f.reward("RW-7", "VTI", "1")
	f.rewardJournal("RW-7", "VTI", "1", 1, "refused", "not tradable")
	f.rewardJournal("RW-7", "VTI", "1", 2, "executed", "")
	return f
}

func TestRewardsInReport(t *testing.T) {
	t.Parallel()
	f := rewardsNight(t)
	r := f.build(after)

	// Counted by hand from rewardsNight.
	want := []struct{ symbol, requested, delivered, failed, open string }{
		{"AAPL", "3.75", "1.5", "2", "0.25"},
		{"TSLA", "3.000000001", "3", "0.000000001", "0"},
		{"VTI", "7", "1", "2", "4"},
	}
	if len(r.Totals.Rewards) != len(want) {
		t.Fatalf("rewards totals = %+v, want %d symbols", r.Totals.Rewards, len(want))
	}
	for i, w := range want {
		got := r.Totals.Rewards[i]
		if got.Symbol != w.symbol {
			t.Fatalf("symbol %d = %s, want %s", i, got.Symbol, w.symbol)
		}
		wantDecimal(t, w.symbol+" requested", got.Requested, w.requested)
		wantDecimal(t, w.symbol+" delivered", got.Delivered, w.delivered)
		wantDecimal(t, w.symbol+" failed", got.Failed, w.failed)
		wantDecimal(t, w.symbol+" open", got.Open, w.open)
	}
	if !r.Totals.Balanced {
		t.Fatalf("unbalanced: %v", r.Totals.Problems)
	}
	// The cash totals are the one cash journal's: a JNLS moves no cash.
	wantDecimal(t, "planned", r.Totals.Planned, "100.00")
	wantDecimal(t, "executed", r.Totals.Executed, "100.00")
	if r.Totals.Journals != 1 {
		t.Errorf("journals = %d, want 1", r.Totals.Journals)
	}

	wantKinds := map[string]string{
		"RW-2": reconcile.KindRewardRefused,
		"RW-3": reconcile.KindRewardStuck,
		"RW-5": reconcile.KindRewardRejected,
		"RW-6": reconcile.KindRewardNotSent,
		"RW-8": reconcile.KindRewardToFirm,
	}
	got := map[string]reconcile.Exception{}
	for _, e := range r.Exceptions {
		if e.RewardID != "" {
			got[e.RewardID] = e
		}
	}
	if len(got) != len(wantKinds) {
		t.Errorf("reward exceptions %v, want %v", kinds(r), wantKinds)
	}
	for id, kind := range wantKinds {
		e := got[id]
		if e.Kind != kind {
			t.Errorf("%s: kind %q, want %q", id, e.Kind, kind)
		}
		if e.AccountID == "" || e.Symbol == "" || e.Qty.IsZero() || e.NextAction == "" || e.File != "allocations-1.csv" || e.Line == 0 {
			t.Errorf("%s: %+v, want account, symbol, qty, next action, file and line", id, e)
		}
		if !e.Amount.IsZero() || e.ReceiptID != "" {
			t.Errorf("%s: a reward has no amount or receipt: %+v", id, e)
		}
		// redrive leaves rewards alone: a failed one is given again under a new reward_id.
		if strings.Contains(e.NextAction, "redrive") && !strings.Contains(e.NextAction, "not redriven") {
			t.Errorf("%s: next action %q sends the operator to redrive, which skips rewards", id, e.NextAction)
		}
	}
	if e := got["RW-8"]; e.AccountID != sweep || !strings.Contains(e.Reason, "sweep account itself") {
		t.Errorf("reward to the firm = %+v", e)
	}
	if e := got["RW-2"]; e.Reason != "The amount requested to move is not available." || !e.Qty.Equal(dec("2")) || e.Symbol != "AAPL" {
		t.Errorf("refused reward = %+v", e)
	}
	var summary bytes.Buffer
	reconcile.WriteSummary(&summary, r)
	for _, want := range []string{"reward_refused RW-2: 2 AAPL to " + account2, "Rewards (shares): AAPL 1.5 of 3.75 delivered, 2 failed, 0.25 open; TSLA"} {
		if !strings.Contains(summary.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary.String())
		}
	}
	if r.ExitCode() != 3 {
		t.Errorf("exit code %d, want 3", r.ExitCode())
	}

	// Before the deadline the open reward is in flight, not stuck.
	if e := find(t, f.build(before), reconcile.KindRewardInFlight, ""); e.RewardID != "RW-3" {
		t.Errorf("in flight = %+v, want RW-3", e)
	}
}

func TestRewardsUnbalancedWhenJournalDiffersFromReward(t *testing.T) {
	t.Parallel()
	f := setup(t, &deadline)
	f.reward("RW-1", "AAPL", "2")
	f.rewardJournal("RW-1", "AAPL", "1.999999999", 1, "executed", "")
	r := f.build(after)
	if r.Totals.Balanced {
		t.Fatal("balanced, want a problem: the journal gave less than the reward asked")
	}
	e := find(t, r, reconcile.KindUnbalanced, "")
	if e.Symbol != "AAPL" || !e.Qty.Equal(dec("0.000000001")) {
		t.Errorf("unbalanced = %+v, want AAPL 0.000000001", e)
	}
}

func TestRewardsInCSVJSONHTML(t *testing.T) {
	t.Parallel()
	r := rewardsNight(t).build(after)
	dir := t.TempDir()
	paths, err := reconcile.Write(dir, r, "csv", "json", "html")
	if err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, paths[0])
	if got := recs[0][len(recs[0])-3:]; !slices.Equal(got, []string{"reward_id", "symbol", "qty"}) {
		t.Fatalf("header ends %v", got)
	}
	var refused []string
	for _, row := range recs[1:] {
		if row[0] == reconcile.KindRewardRefused {
			refused = row
		}
	}
	if refused == nil || refused[len(refused)-3] != "RW-2" || refused[len(refused)-2] != "AAPL" || refused[len(refused)-1] != "2" || refused[4] != "" {
		t.Errorf("refused row = %q", refused)
	}
	totals := map[string]string{}
	for _, row := range readCSV(t, paths[1])[1:] {
		totals[row[0]] = row[1]
	}
	for k, v := range map[string]string{"rewards_requested:AAPL": "3.75", "rewards_delivered:AAPL": "1.5",
		"rewards_failed:AAPL": "2", "rewards_open:AAPL": "0.25", "rewards_open:VTI": "4", "executed": "100.00", "balanced": "true"} {
		if totals[k] != v {
			t.Errorf("totals %s = %q, want %q", k, totals[k], v)
		}
	}

	b, err := os.ReadFile(filepath.Join(dir, reconcile.FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Totals struct {
			Rewards []struct{ Symbol, Requested, Delivered, Failed, Open string }
		}
		Exceptions []struct {
			Kind     string
			RewardID string  `json:"reward_id"`
			Qty      *string `json:"qty"`
			Amount   *string `json:"amount"`
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Totals.Rewards) != 3 || doc.Totals.Rewards[1].Failed != "0.000000001" {
		t.Errorf("json rewards totals = %+v", doc.Totals.Rewards)
	}
	for _, e := range doc.Exceptions {
		if e.RewardID == "RW-2" && (e.Qty == nil || *e.Qty != "2" || e.Amount != nil) {
			t.Errorf("json RW-2 = %+v", e)
		}
	}
	var back reconcile.Totals
	tb, _ := json.Marshal(r.Totals)
	if err := json.Unmarshal(tb, &back); err != nil || len(back.Rewards) != 3 || !back.Rewards[0].Requested.Equal(dec("3.75")) {
		t.Errorf("totals round trip = %+v, %v", back.Rewards, err)
	}

	h, err := os.ReadFile(filepath.Join(dir, reconcile.FileHTML))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"RW-2", "rewards-by-symbol", "Rewards (shares): AAPL 1.5 of 3.75 delivered, 2 failed, 0.25 open"} {
		if !strings.Contains(string(h), s) {
			t.Errorf("html lacks %q", s)
		}
	}
	if s := reconcile.Summarize(r); !strings.Contains(s.Headline, "3 rewards not delivered") {
		t.Errorf("headline %q names no failed rewards", s.Headline)
	}
}

// A reward's journal executed from the rewards account moves shares, not cash: the sweep proof
// counts the cash journals only.
func TestSweepProofCountsCashJournalsOnly(t *testing.T) {
	t.Parallel()
	f := setup(t, &deadline)
	f.receipt("R1", "100.00", "100.00", false, "")
	f.journal(0, journal{receiptID: "R1", clientRef: "cash", amount: "100.00", status: "executed"})
	f.reward("RW-1", "AAPL", "1")
	f.rewardJournal("RW-1", "AAPL", "1", 1, "executed", "")
	ctx := context.Background()
	if ok, err := reconcile.RecordOpening(ctx, f.db, f.runID, dec("1000.00"), plannedAt); err != nil || !ok {
		t.Fatalf("opening: %v %v", ok, err)
	}
	if err := reconcile.RecordClosing(ctx, f.db, f.runID, dec("900.00"), plannedAt.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	s, err := reconcile.SweepOf(ctx, f.db, f.runID)
	if err != nil {
		t.Fatal(err)
	}
	if s.FundedCount != 1 || !s.Funded.Equal(dec("100.00")) || !s.Proved() {
		t.Errorf("sweep funded %s in %d journals, proved %v; want 100.00 in 1, proved", s.Funded, s.FundedCount, s.Proved())
	}
}

// An earlier unfinished run's open amount is its cash journals' only.
func TestUnfinishedRunCountsOpenCash(t *testing.T) {
	t.Parallel()
	f := setup(t, &deadline)
	f.exec(`UPDATE runs SET business_date = '2026-11-23', status = 'submitted' WHERE id = $1`, f.runID)
	f.journal(0, journal{receiptID: "R1", clientRef: "cash", amount: "40.00", status: "queued"})
	f.reward("RW-1", "AAPL", "1")
	f.rewardJournal("RW-1", "AAPL", "1", 1, "queued", "")
	f.runID = f.newRun(date, plannedAt, &deadline)
	r := f.build(after)
	e := find(t, r, reconcile.KindUnfinishedRun, "")
	wantDecimal(t, "open amount", e.Amount, "40.00")
}

// A reward delivered by an earlier run that Alpaca took back after that run's report is late news
// in the next report, as a cash journal's reversal is: with the reward, its shares and symbol.
func TestRewardReversedLaterIsReported(t *testing.T) {
	t.Parallel()
	f := setup(t, &deadline)
	f.exec(`UPDATE runs SET business_date = '2026-11-23', status = 'reconciled', reported_history_id = 0 WHERE id = $1`, f.runID)
	f.reward("RW-1", "AAPL", "1.5")
	f.rewardJournal("RW-1", "AAPL", "1.5", 1, "canceled", "")
	f.exec(`INSERT INTO journal_history (journal_id, status_from, status_to, source, at)
		SELECT id, 'executed', 'canceled', 'stream', $1 FROM journals WHERE reward_id = 'RW-1'`, plannedAt.Add(-time.Hour))
	f.runID = f.newRun(date, plannedAt, &deadline)
	r := f.build(after)
	var got []reconcile.Exception
	for _, e := range r.Exceptions {
		if e.RewardID != "" {
			got = append(got, e)
		}
	}
	if len(got) != 1 {
		t.Fatalf("reward exceptions %v, want one reward_reversed", kinds(r))
	}
	e := got[0]
	if e.Kind != reconcile.KindRewardReversed || e.RewardID != "RW-1" || e.Symbol != "AAPL" || !e.Qty.Equal(dec("1.5")) ||
		!e.Amount.IsZero() || e.Line == 0 || !strings.Contains(e.Reason, "delivered by the run of 2026-11-23") {
		t.Errorf("late news = %+v", e)
	}
}
