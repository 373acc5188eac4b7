package alpaca

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pacer spends the budget Alpaca announces (X-RateLimit-Remaining calls until X-RateLimit-Reset)
// evenly over what is left of the window, ahead of time, so that calls made at once by several
// workers never run into a 429. Until the first answer of a window the budget is unknown and calls
// go at once. Its clock is the client's, so a test on a simulated clock paces on that clock.
type pacer struct {
	mu    sync.Mutex
	lim   *rate.Limiter // nil while the budget is unknown
	spent time.Time     // the budget is spent: nothing goes before this reset
	sent  int           // calls sent and not answered yet: the server has not counted them in what it announced
}

// turn reserves the next call at now. It returns how long to wait before sending it and whether
// to ask again after that wait (the window was spent: its reset brings a new budget).
func (p *pacer) turn(now time.Time) (wait time.Duration, again bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.spent) {
		return p.spent.Sub(now), true
	}
	p.sent++
	if p.lim == nil {
		return 0, false
	}
	return p.lim.ReserveN(now, 1).DelayFrom(now), false
}

// lost forgets a call that got no answer.
func (p *pacer) lost() {
	p.mu.Lock()
	p.sent--
	p.mu.Unlock()
}

// answered reads the budget an answer announces. The calls still on their way will spend some of
// it; the rest is spread over the time left, with a burst of a quarter, so that at most the budget
// is spent before the reset. It returns how long until the reset when nothing is left.
func (p *pacer) answered(h http.Header, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent--
	remaining, err1 := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	reset, err2 := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	if limit, err := strconv.Atoi(h.Get("X-RateLimit-Limit")); err == nil {
		remaining = min(remaining, limit)
	}
	resetAt := time.Unix(reset, 0)
	budget := remaining - max(p.sent, 0)
	if budget <= 0 {
		// Spent: wait for the reset, then go on as in a new window, budget unknown.
		p.spent, p.lim = resetAt, nil
		return max(resetAt.Sub(now), 50*time.Millisecond)
	}
	left := max(resetAt.Sub(now), time.Second) // a clock a little ahead of Alpaca's still paces
	burst := max(1, budget/4)
	// At least one call over what is left: a limiter with no rate reports an infinite delay,
	// while one at 1/left lets the call after the burst go at the reset.
	every := rate.Limit(float64(max(budget-burst, 1)) / left.Seconds())
	if p.lim == nil {
		p.lim = rate.NewLimiter(every, burst)
	} else {
		p.lim.SetLimitAt(now, every)
		p.lim.SetBurstAt(now, burst)
	}
	return 0
}

// waitTurn holds a call to path back until the pacer lets it go.
func (c *Client) waitTurn(ctx context.Context, path string) error {
	for {
		wait, again := c.pace.turn(c.now())
		if wait > 0 {
			c.onWait(wait)
			// Waiting out a spent budget, or a second or more, is news; the short pauses that
			// spread calls within a budget happen on every call of a busy night.
			level, msg := slog.LevelDebug, "broker: pacing calls within the rate limit"
			if again {
				level, msg = slog.LevelInfo, "broker: rate-limit budget spent, waiting for the reset"
			} else if wait >= time.Second {
				level, msg = slog.LevelInfo, "broker: pacing calls within the rate limit"
			}
			c.log.Log(ctx, level, msg, "route", Route(path), "wait", wait)
			if err := c.sleep(ctx, wait); err != nil {
				if !again {
					c.pace.lost()
				}
				return err
			}
		}
		if !again {
			return nil
		}
	}
}

// RateLimitPerMinute is the Broker API's documented rate limit ("1,000 calls per minute"); the
// pacer follows what each answer announces, this only estimates how long many calls take.
const RateLimitPerMinute = 1000
