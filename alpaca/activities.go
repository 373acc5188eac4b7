package alpaca

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"time"

	"github.com/shopspring/decimal"
)

// Activity types and statuses cashpool reads from the activity stream. Alpaca documents many
// more types (FILL, CSD, FEE, JNLS, ...); they arrive on the same stream and are kept raw.
const (
	ActivityJNLC = "JNLC"
	// An activity's status moves from executed to canceled or correct when Alpaca takes it back.
	ActivityExecuted = "executed"
	ActivityCanceled = "canceled"
	ActivityCorrect  = "correct"
)

// Activity is one event of Alpaca's activity stream: a snapshot of one account activity (RefID)
// as it was booked or changed. Amounts stay text until NetAmount is asked for, so an activity of
// a type cashpool does not read never stops the stream.
type Activity struct {
	EventID      string
	AccountID    string
	RefID        string
	ActivityType string
	Status       string
	At           time.Time
	// JournalID is details.journal_id of a journal activity (JNLC, JNLS).
	JournalID string
	// NetAmountText is net_amount as sent; NetAmount reads it.
	NetAmountText string
}

// activityAmountPattern is the only net_amount text read: a plain signed decimal, never 1e3,
// +1.5 or .5.
var activityAmountPattern = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,19})(\.[0-9]{1,10})?$`)

// NetAmount is the activity's signed amount (negative: money left the account), read from its
// text only once the text is a plain decimal.
func (a Activity) NetAmount() (decimal.Decimal, error) {
	if !activityAmountPattern.MatchString(a.NetAmountText) {
		return decimal.Decimal{}, fmt.Errorf("alpaca: activity %s: net_amount %q is not a plain decimal", a.RefID, a.NetAmountText)
	}
	return decimal.NewFromString(a.NetAmountText)
}

type activityWire struct {
	EventID      string          `json:"event_id"`
	AccountID    string          `json:"account_id"`
	RefID        string          `json:"ref_id"`
	ActivityType string          `json:"activity_type"`
	NetAmount    json.RawMessage `json:"net_amount"`
	Status       string          `json:"status"`
	At           time.Time       `json:"at"`
	Details      struct {
		JournalID string `json:"journal_id"`
	} `json:"details"`
}

// ActivityOptions bound StreamActivities. Since and Until (both required here: cashpool only
// reads a closed window) are sent as RFC 3339; Alpaca ends the stream with 200 at Until.
type ActivityOptions struct {
	Since, Until time.Time
	// IdleTimeout: see StreamOptions. Default 60s.
	IdleTimeout time.Duration
}

// StreamActivities reads GET /v2beta1/events/activities from Since to Until and calls fn for each
// event, in the order sent. Alpaca documents no account or type filter for this stream, so every
// account's activities of every type arrive; the caller picks. Ends and errors as
// StreamJournalEvents.
func (c *Client) StreamActivities(ctx context.Context, o ActivityOptions, fn func(Activity) error) error {
	if o.Since.IsZero() || o.Until.IsZero() {
		return fmt.Errorf("alpaca: the activity stream is read between two moments: since and until are required")
	}
	q := url.Values{}
	q.Set("since", o.Since.UTC().Format(time.RFC3339Nano))
	q.Set("until", o.Until.UTC().Format(time.RFC3339Nano))
	return c.openStream(ctx, "/v2beta1/events/activities", q, o.IdleTimeout, func(body io.Reader) error {
		return readSSE(body, func(data []byte) error {
			var w activityWire
			if err := json.Unmarshal(data, &w); err != nil {
				return fmt.Errorf("alpaca: undecodable activity event: %w", err)
			}
			if w.EventID == "" || w.RefID == "" {
				return fmt.Errorf("alpaca: activity event without event or ref id: %.200s", data)
			}
			// Decimals travel as strings; a bare number is kept as its text and judged the same way.
			amount := string(bytes.Trim(w.NetAmount, `"`))
			return fn(Activity{EventID: w.EventID, AccountID: w.AccountID, RefID: w.RefID, ActivityType: w.ActivityType,
				Status: w.Status, At: w.At, JournalID: w.Details.JournalID, NetAmountText: amount})
		})
	})
}
