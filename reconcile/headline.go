package reconcile

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Currency is the one currency receipts may carry; amounts are shown with it.
const Currency = "USD"

// Severity says how soon a person must act on a group of exceptions (or on a night).
type Severity int

const (
	SeverityOK     Severity = iota // nothing for a person
	SeverityInfo                   // listed for information only
	SeverityWatch                  // money still moving or stuck: follow up
	SeverityAction                 // a person must fix something
)

// Class names a severity for style sheets: ok, info, watch, action.
func (s Severity) Class() string {
	return [...]string{"ok", "info", "watch", "action"}[s]
}

// Group is the exceptions that call for the same kind of answer, in the report's order.
type Group struct {
	Severity   Severity
	Title      string
	Exceptions []Exception
	// Amount is the money the group's rows stand for, each sum once: the allocations skipped
	// because their receipt is held are part of that receipt's row, not money of their own.
	Amount decimal.Decimal
}

// Summary is what a person reads first: one headline, the funded line, and the exceptions grouped
// by what to do, the groups needing action first.
type Summary struct {
	Severity Severity
	Headline string
	Funded   string
	// Rewards is the night's rewards in one sentence, per symbol; empty for a night without any.
	Rewards string
	// Sweep is the sweep account's proof in one sentence (Sweep.Line); empty for a report without one.
	Sweep  string
	Groups []Group
}

// groups lists, per group, its kinds in the order they are shown: journal failures first, since
// they are money a customer did not get.
var groups = []struct {
	severity Severity
	title    string
	kinds    []string
}{
	{SeverityAction, "Needs action", []string{KindUnbalanced, KindSweepDifference, KindFailed, KindFailedLate, KindReversed, KindNotSent,
		KindUnknownStatus, KindUnfinishedRun, KindHeldNight, KindCashShortfall, KindRejectedFile, KindHeldReceipt, KindOverAllocated,
		KindSkippedAllocation, KindAmbiguousReference, KindUnmatchedReference, KindUnallocated, KindCorrected,
		KindRewardToFirm, KindRewardRefused, KindRewardRejected, KindRewardNotSent, KindRewardReversed, KindRewardFailedLate,
		KindRewardUnknownStatus}},
	{SeverityWatch, "Stuck or still in flight", []string{KindStuck, KindStuckPending, KindInFlight, KindRewardStuck, KindRewardInFlight}},
	{SeverityInfo, "For information", []string{KindAwaitingReceipt, KindHolidayValueDate}},
}

// Summarize gives the headline and grouping of r, the same in the HTML report and the console.
func Summarize(r *Report) Summary {
	var s Summary
	byKind := map[string][]Exception{}
	for _, e := range r.Exceptions {
		byKind[e.Kind] = append(byKind[e.Kind], e)
	}
	heldWhole := map[string]bool{}
	for _, k := range []string{KindOverAllocated, KindHeldReceipt} {
		for _, e := range byKind[k] {
			heldWhole[e.ReceiptID] = true
		}
	}
	for _, g := range groups {
		out := Group{Severity: g.severity, Title: g.title}
		for _, k := range g.kinds {
			for _, e := range byKind[k] {
				out.Exceptions = append(out.Exceptions, e)
				if k == KindSkippedAllocation && heldWhole[e.ReceiptID] {
					continue
				}
				// The shortfall is part of the money of the night's not-sent journals, listed beside it;
				// the sweep account's difference is no customer's money, and its activities explain it.
				if k == KindCashShortfall || k == KindSweepDifference {
					continue
				}
				out.Amount = out.Amount.Add(e.Amount)
			}
		}
		if len(out.Exceptions) > 0 {
			s.Groups = append(s.Groups, out)
			s.Severity = max(s.Severity, g.severity)
		}
	}
	if !r.Totals.Balanced {
		s.Severity = SeverityAction
	}

	count := func(kinds ...string) (n int, amount decimal.Decimal) {
		for _, k := range kinds {
			for _, e := range byKind[k] {
				n++
				amount = amount.Add(e.Amount)
			}
		}
		return n, amount
	}
	var parts []string
	if !r.Totals.Balanced && len(byKind[KindUnbalanced]) == 0 {
		parts = append(parts, "Totals do not balance — escalate to engineering")
	}
	if n, _ := count(KindUnbalanced); n > 0 {
		parts = append(parts, "Totals do not balance — escalate to engineering, do not redrive")
	}
	if n, a := count(KindCashShortfall); n > 0 {
		parts = append(parts, fmt.Sprintf("Night held: the sweep account is short by %s — fund it and re-run", FormatAmount(a)))
	}
	if r.Sweep != nil && r.Sweep.Read() && !r.Sweep.Proved() {
		parts = append(parts, fmt.Sprintf("Sweep account not proved: difference %s — find who moved its cash", signed(r.Sweep.Difference)))
	}
	if n, a := count(KindFailed); n > 0 {
		parts = append(parts, fmt.Sprintf("%s failed, %s — redrive after fixing", plural(n, "journal"), FormatAmount(a)))
	}
	if n, a := count(KindStuck, KindStuckPending); n > 0 {
		parts = append(parts, fmt.Sprintf("%d stuck, %s — ask Alpaca", n, FormatAmount(a)))
	}
	if n, a := count(KindInFlight); n > 0 {
		parts = append(parts, fmt.Sprintf("%d still in flight, %s", n, FormatAmount(a)))
	}
	if n, _ := count(KindRewardToFirm, KindRewardRefused, KindRewardRejected); n > 0 {
		parts = append(parts, fmt.Sprintf("%s not delivered (refused or rejected) — see the reasons", plural(n, "reward")))
	}
	if n, _ := count(KindRewardStuck); n > 0 {
		parts = append(parts, fmt.Sprintf("%s stuck — ask Alpaca", plural(n, "reward")))
	}
	others := 0
	for _, g := range s.Groups {
		if g.Severity == SeverityAction {
			others += len(g.Exceptions)
		}
	}
	if n, _ := count(KindFailed, KindUnbalanced, KindCashShortfall, KindSweepDifference, KindRewardToFirm, KindRewardRefused, KindRewardRejected); others-n > 0 {
		parts = append(parts, fmt.Sprintf("%s to resolve", plural(others-n, "other exception")))
	}

	t := r.Totals
	switch {
	case len(parts) > 0:
		s.Headline = strings.Join(parts, "; ")
	case t.Journals == 0 && len(t.Rewards) > 0:
		s.Headline = "All rewards delivered"
	case t.Journals == 0:
		s.Headline = "Nothing to fund"
	default:
		s.Headline = fmt.Sprintf("All %s funded, %s", plural(t.Journals, "journal"), FormatAmount(t.Executed))
	}
	s.Funded = fmt.Sprintf("Funded %d of %s, %s of %s planned", t.ExecutedCount, plural(t.Journals, "journal"),
		FormatAmount(t.Executed), FormatAmount(t.Planned))
	s.Rewards = rewardsLine(t.Rewards)
	if r.Sweep != nil {
		s.Sweep = r.Sweep.Line()
	}
	return s
}

// rewardsLine is the night's rewards per symbol in one sentence, in shares.
func rewardsLine(rs []RewardTotals) string {
	if len(rs) == 0 {
		return ""
	}
	parts := make([]string, 0, len(rs))
	for _, s := range rs {
		p := fmt.Sprintf("%s %s of %s delivered", s.Symbol, s.Delivered.String(), s.Requested.String())
		if s.Failed.IsPositive() {
			p += fmt.Sprintf(", %s failed", s.Failed.String())
		}
		if s.Open.IsPositive() {
			p += fmt.Sprintf(", %s open", s.Open.String())
		}
		parts = append(parts, p)
	}
	return "Rewards (shares): " + strings.Join(parts, "; ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// FormatAmount writes an amount for people: two places, thousands separated by commas, and the
// currency ("3,000.00 USD").
func FormatAmount(d decimal.Decimal) string {
	s := d.Abs().StringFixed(2)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if d.IsNegative() {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String() + "." + frac + " " + Currency
}
