package console_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/console"
)

const (
	inactiveAccount = "c0000000-0000-4000-8000-000000000099" // BWP-003's account, INACTIVE in the seed
	consoleToken    = "console-token-for-the-test"
)

// chromium finds Debian's chromium; its absence fails the test (`make test` installs it when it can: .ci/test-deps).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: `apt-get install chromium` (`make test` installs it when it can: .ci/test-deps)")
	return ""
}

// TestConsoleInBrowser runs the sample night, serves the console, and checks in a real headless
// Chromium what a person sees: the headline, failed rows before informational ones, and a redrive
// filed by alice, refused to alice as approver, approved by bob and sent (the simulator's ledger
// shows the new journal executed). Screenshots go to the test's artifact directory (kept with
// `go test -artifacts -outputdir DIR`).
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	n := runSampleNight(t)

	reran := make(chan error, 1)
	h := console.New(console.Config{DB: n.db, SweepAccount: n.runner.Config.SweepAccount, TZ: time.UTC,
		Token: consoleToken, UserHeader: "X-Forwarded-User",
		Rerun: func(date string) {
			go func() {
				_, err := n.runner.Run(t.Context(), date)
				reran <- err
			}()
		}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	shots := t.ArtifactDir()
	t.Logf("screenshots in %s", shots)
	alloc, cancel := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1600, 1200))
	defer cancel()
	browser, cancel := chromedp.NewContext(alloc)
	defer cancel()
	// The browser lives as long as the context of its first call: that one has no deadline.
	do(t, browser, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return err
	}))
	ctx, cancel := context.WithTimeout(browser, 45*time.Second)
	defer cancel()

	as := func(user string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
				Headers: network.Headers{"X-Forwarded-User": user, console.TokenHeader: consoleToken}})
			return err
		})
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			b, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name), b, 0o644)
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("browser: text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	nightURL := srv.URL + "/nights/" + n.date

	// The nights list and the night's headline, read as alice.
	do(t, ctx, as("alice"), chromedp.Navigate(srv.URL+"/"), shot("1-nights.png"))
	if nights := text("#nights"); !strings.Contains(nights, n.date) || !strings.Contains(nights, "reconciled") {
		t.Errorf("nights list lacks the sample night:\n%s", nights)
	}
	do(t, ctx, chromedp.Navigate(nightURL), shot("2-night.png"))
	// Written out by hand from fixtures/: BWP-002 5,000.00 and BWP-003 2,500.00 failed; BWP-001
	// 15,000.00 and FOX-001 3,000.00 pending; a rejected file, a held receipt, an over-allocated
	// receipt, an unallocated remainder and its two skipped allocations; an ambiguous bank reference
	// and the two receipts it holds; the TSLA reward Alpaca refused (the firm holds none) and the one
	// naming the sweep account, refused at plan.
	const wantHeadline = "2 journals failed, 7,500.00 USD — redrive after fixing; 2 stuck, 18,000.00 USD — ask Alpaca; " +
		"2 rewards not delivered (refused or rejected) — see the reasons; 9 other exceptions to resolve"
	if headline := text("#headline"); headline != wantHeadline {
		t.Errorf("headline\n got %q\nwant %q", headline, wantHeadline)
	}
	if sweep := text("#sweep"); !strings.HasPrefix(sweep, "Sweep account proved: opening 1,000,000.00 USD") {
		t.Errorf("the night page does not prove the sweep account: %q", sweep)
	}
	if person := text("#person"); person != "alice" {
		t.Errorf("signed in as %q, want alice", person)
	}
	kinds, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("table.exceptions tr td:first-child")).map(td => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	wantKinds := []string{"failed", "failed", "rejected_file", "held_receipt", "held_receipt", "held_receipt", "over_allocated",
		"skipped_allocation", "skipped_allocation", "ambiguous_reference", "unallocated", "reward_to_firm", "reward_refused",
		"stuck_pending", "stuck_pending",
		"awaiting_receipt", "awaiting_receipt", "holiday_value_date"}
	if !slices.Equal(kinds, wantKinds) {
		t.Errorf("rows in the order\n %v\nwant\n %v", kinds, wantKinds)
	}

	// Operations fixed the cause: the account is active now. Alice files the redrive, then tries
	// to approve it herself.
	n.sim.SetAccount(sandbox.Account{ID: inactiveAccount, Status: "ACTIVE"})
	do(t, ctx, chromedp.SendKeys(chromedp.CSS("#reason"), "account 099 activated by onboarding"),
		chromedp.Click(chromedp.CSS("#request-redrive")), chromedp.WaitVisible(chromedp.CSS(".requester")), shot("3-requested.png"))
	if requester := text(".requester"); requester != "alice" {
		t.Errorf("requester shown %q, want alice", requester)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`button[id^="approve-"]`)), chromedp.WaitVisible(chromedp.CSS("#error")),
		shot("4-self-approval-refused.png"))
	if refusal := text("#error"); !strings.Contains(refusal, "a second person must approve it") {
		t.Errorf("alice's own approval answered %q", refusal)
	}

	// Bob approves: the same Apply the CLI runs, then the date runs again.
	do(t, ctx, as("bob"), chromedp.Navigate(nightURL), chromedp.Click(chromedp.CSS(`button[id^="approve-"]`)),
		chromedp.WaitVisible(chromedp.CSS(".approver")), shot("5-approved.png"))
	if approver := text(".approver"); approver != "bob" {
		t.Errorf("approver shown %q, want bob", approver)
	}
	select {
	case err := <-reran:
		// The rejected fixture of BWP-002 stays open until the next end of day: exceptions, no error.
		if err != nil {
			t.Fatalf("the run after the redrive: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the run after the redrive did not end")
	}

	// The simulator's ledger: BWP-003's account now has an executed 2,500.00 journal.
	var executed, sent int
	for _, e := range n.sim.Ledger() {
		if e.ToAccount == inactiveAccount {
			sent++
			if e.Status == "executed" && e.Amount.StringFixed(2) == "2500.00" {
				executed++
			}
		}
	}
	if executed != 1 {
		t.Errorf("ledger: %d executed journals to %s (of %d sent there), want 1", executed, inactiveAccount, sent)
	}

	do(t, ctx, chromedp.Navigate(nightURL), shot("6-after-redrive.png"))
	// BWP-003 is funded; BWP-002's new attempt waits at Alpaca for the end of day its fixture
	// needs, so it is stuck beside BWP-001 and FOX-001: 5,000.00 + 15,000.00 + 3,000.00.
	// The rewards are not redriven: still refused.
	const wantAfter = "3 stuck, 23,000.00 USD — ask Alpaca; 2 rewards not delivered (refused or rejected) — see the reasons; 9 other exceptions to resolve"
	if after := text("#headline"); after != wantAfter {
		t.Errorf("headline after the redrive\n got %q\nwant %q", after, wantAfter)
	}
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}
