package alpaca

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Lister is the list call of the client, which EachJournalPaged splits.
type Lister interface {
	EachJournal(ctx context.Context, f ListFilter, fn func(Journal) error) error
}

// Narrow says how EachJournalPaged lists a single day that is still over Alpaca's result limit,
// with filters Alpaca documents. Either may be empty.
type Narrow struct {
	// Statuses: the day is listed once per status. Only these statuses are listed, so a caller
	// that needs every journal of the day looks up what it missed some other way.
	Statuses []string
	// ToAccounts: the day (and status) is listed once per to_account, for the accounts the caller
	// cares about.
	ToAccounts []string
}

// ErrWindowTooLarge is wrapped by the error of EachJournalPaged when a window stayed over Alpaca's
// result limit with every narrowing spent.
var ErrWindowTooLarge = errors.New("alpaca: journals still over Alpaca's 100,000 list limit")

// WindowError names one window EachJournalPaged could not list.
type WindowError struct{ Filter ListFilter }

func (e *WindowError) Error() string {
	return fmt.Sprintf("%v: no journal was read from %s", ErrWindowTooLarge, e.Filter)
}

func (e *WindowError) Unwrap() error { return ErrWindowTooLarge }

// String names the filter's window, for errors.
func (f ListFilter) String() string {
	var parts []string
	for _, p := range [][2]string{{"after", f.After}, {"before", f.Before}, {"status", f.Status},
		{"entry_type", f.EntryType}, {"to_account", f.ToAccount}, {"from_account", f.FromAccount}} {
		if p[1] != "" {
			parts = append(parts, p[0]+"="+p[1])
		}
	}
	return "GET /v1/journals?" + strings.Join(parts, "&")
}

// EachJournalPaged lists the journals f matches, After to Before (both dates, both inclusive), and
// hands each to fn. Alpaca has no cursor and refuses a list over 100,000 results (422), so a window
// over the limit is split: in halves by date down to single days, then as n says. A window still
// over the limit after that is skipped and reported: the error wraps a *WindowError for each one
// (errors.Is ErrWindowTooLarge), after every other window was listed. The limit parameter with an
// assumed sort order is never used to page. Any other error stops the listing.
func EachJournalPaged(ctx context.Context, l Lister, f ListFilter, n Narrow, fn func(Journal) error) error {
	if f.Limit != 0 {
		return errors.New("alpaca: a paged list never sets limit: Alpaca's sort order is not documented")
	}
	from, err := time.Parse(time.DateOnly, f.After)
	if err != nil {
		return fmt.Errorf("alpaca: a paged list needs after as a date: %w", err)
	}
	to, err := time.Parse(time.DateOnly, f.Before)
	if err != nil {
		return fmt.Errorf("alpaca: a paged list needs before as a date: %w", err)
	}
	if to.Before(from) {
		return fmt.Errorf("alpaca: a paged list from %s to %s: before comes before after", f.After, f.Before)
	}
	p := pager{l: l, n: n, fn: fn}
	if err := p.dates(ctx, f, from, to); err != nil {
		return err
	}
	return errors.Join(p.uncovered...)
}

type pager struct {
	l         Lister
	n         Narrow
	fn        func(Journal) error
	uncovered []error
}

// dates lists the days from to to, halving the range while it is over the limit.
func (p *pager) dates(ctx context.Context, f ListFilter, from, to time.Time) error {
	f.After, f.Before = from.Format(time.DateOnly), to.Format(time.DateOnly)
	err := p.l.EachJournal(ctx, f, p.fn)
	if !overLimit(err) {
		return err
	}
	if days := int(to.Sub(from).Hours() / 24); days > 0 {
		mid := from.AddDate(0, 0, (days-1)/2)
		if err := p.dates(ctx, f, from, mid); err != nil {
			return err
		}
		return p.dates(ctx, f, mid.AddDate(0, 0, 1), to)
	}
	return p.day(ctx, f)
}

// day lists one day that is over the limit as a whole: per status, then per to_account.
func (p *pager) day(ctx context.Context, f ListFilter) error {
	switch {
	case f.Status == "" && len(p.n.Statuses) > 0:
		return p.each(ctx, f, p.n.Statuses, func(f *ListFilter, v string) { f.Status = v })
	case f.ToAccount == "" && len(p.n.ToAccounts) > 0:
		return p.each(ctx, f, p.n.ToAccounts, func(f *ListFilter, v string) { f.ToAccount = v })
	}
	p.uncovered = append(p.uncovered, &WindowError{Filter: f})
	return nil
}

func (p *pager) each(ctx context.Context, f ListFilter, values []string, set func(*ListFilter, string)) error {
	for _, v := range values {
		g := f
		set(&g, v)
		err := p.l.EachJournal(ctx, g, p.fn)
		if overLimit(err) {
			err = p.day(ctx, g)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// overLimit reports Alpaca's 422 "Result set exceeds 100,000 records.": its code is the generic
// 42210000, so only the message tells it from other 422s.
func overLimit(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.HTTPStatus == http.StatusUnprocessableEntity &&
		strings.Contains(strings.ToLower(apiErr.Message), "exceeds")
}
