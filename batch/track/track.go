// Package track follows every journal of a run until Alpaca has settled it or the run's tracking
// deadline passes.
//
// The primary source is Alpaca's v2 journal event stream (Mode "stream", the default): one long
// connection carries every status change of the sweep account's journals. Events are applied in
// batches, split by journal into parts applied at once on their own connections; each batch commits
// the journals' new statuses and their history rows (source 'sse', each with its event id, unique).
// The sweep account's stream cursor (event_cursors) passes an event only once it and every event
// received before it are committed, so the cursor never runs ahead of what was applied. Each
// journal keeps the newest event seen for it, and an event not newer is not applied: that
// de-duplicates. A reconnect resumes from the stored cursor rewound by a short replay margin,
// because an event the stream re-ordered may have been lost with the connection; the replayed
// overlap is dropped by the de-duplication. Events for journals that are not ours are skipped but still move the cursor.
// Without a stored cursor the stream starts a margin before the run's first batch was sent.
//
// Tracking is shared by the night's processes (parts.go): the run's journals are split into
// TrackParts parts (track_parts), each applied by the tracker holding its lease. The run's holder
// (Track) claims every free part; a process that joined the night (Follow) claims its fair share.
// Each tracker reads its own stream and applies only its parts' events; each transaction writes its
// parts' cursors and what its moves did to the run's open count, and commits only while the parts
// are still its own. A part whose holder stopped is taken after its lease, and its taker reads its
// events again from the part's cursor. The holder alone heals, keeps the deadline and ends
// tracking, counting the others' moves from the parts' sums; ending closes the parts, after which
// no tracker commits. Alone, the holder holds every part and tracks as it always did.
//
// Heal passes (Pass: a windowed list call when the run is small, a GET by id per open journal
// otherwise) catch what the stream never delivered: they run after the stream reports dropped
// messages, after a reconnect, and once when the deadline comes with journals still open. Mode
// "poll" runs only passes, one every PollEvery, as the first version did.
//
// Every status change is applied with a guard (an older status never overwrites a newer one;
// stream events are also ordered per journal by their ULID) and appended to the journal's history
// in the same transaction. Unknown statuses are stored raw and flagged, never a crash. Funded
// journals (executed, activity_created) count as done for the run, but a reversal that arrives on
// the stream while tracking is still applied.
package track

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/store"
)

// Broker is the part of the Alpaca client tracking uses.
type Broker interface {
	alpaca.Lister
	GetJournal(ctx context.Context, id string) (*alpaca.Journal, error)
}

// Streamer is the event stream of the Alpaca client. A Broker without it is tracked by polling.
type Streamer interface {
	StreamJournalEvents(ctx context.Context, o alpaca.StreamOptions, fn func(alpaca.JournalEvent) error) error
}

// Tracking modes.
const (
	ModeStream = "stream"
	ModePoll   = "poll"
)

// PollEveryDefault is the pause between tracking passes. Defaults to 30s.
const PollEveryDefault = 30 * time.Second

// ApplyPartsDefault: stream events are applied in two parts at once, so that two database
// connections (two cores of the server) share the night's moves.
const ApplyPartsDefault = 2

// FlushEventsDefault is how many stream events a flush takes at most. In 1M nights 5,000 left
// tracking's tail at 11–12 s against 17–21 s with 2,000 (bigger statements keep up during sending);
// 10,000 cost cashpool more CPU than its shorter tail saved: its heap then sits near the soft
// memory limit and the collector runs almost continually (README, rounds 12 and 13).
const FlushEventsDefault = 5000

// Config of a tracking session.
type Config struct {
	SweepAccount string
	// RewardsAccount is the firm account rewards (JNLS) go from; SweepAccount when empty. A heal
	// pass that lists lists its JNLS too when the run sent rewards.
	RewardsAccount string
	PollEvery      time.Duration // pause between passes; PollEveryDefault when zero
	Now            func() time.Time
	Logger         *slog.Logger
	// Wait pauses between passes; tests inject one that advances the simulator's clock instead.
	Wait func(ctx context.Context, d time.Duration) error
	// GetParallel bounds concurrent GET-by-id calls; default 4.
	GetParallel int
	// AfterPass, when set, runs after each pass committed and, in stream mode, after each batch of
	// events committed (the crash harness kills there).
	AfterPass func()

	// Mode is ModeStream (default) or ModePoll.
	Mode string
	// StreamIdle: a stream that sent nothing, not even a heartbeat, for this long is reconnected;
	// default 60s (Alpaca sends heartbeats far more often).
	StreamIdle time.Duration
	// FlushEvents and FlushEvery bound a flush of stream events: it is handed to the parts after
	// this many events or this long after its first event, and a part's transaction takes at most
	// this many; defaults FlushEventsDefault and 1s (a night's events come by the ten thousand a
	// second: each transaction is a commit and a statement per step of it).
	FlushEvents int
	FlushEvery  time.Duration
	// ApplyParts is how many appliers, on as many connections, apply the stream's events at once,
	// each its share of the journals, each without waiting for the others (ApplyPartsDefault when
	// zero; 1: one applier).
	ApplyParts int
	// ReplayMargin is how much event time a reconnect re-reads before the stored cursor, to recover
	// events that were re-ordered behind the last one applied; default 5s.
	ReplayMargin time.Duration
	// SinceMargin is how long before the run's first batch was sent the stream starts when no
	// cursor is stored (or the cursor is later than that); default 1h.
	SinceMargin time.Duration
	// ReconnectMax caps the backoff between reconnects (before its jitter); default 30s.
	ReconnectMax time.Duration
	// HealListAbove: a heal pass with more open journals than this uses the list call (when the
	// run has at most ListMax journals) instead of one GET per journal; default 100.
	HealListAbove int
	// PassChunk is how many open journals a pass reads, looks up and moves at a time, so a large
	// night's open set is never held whole; default 5,000.
	PassChunk int
	// ListMax is the largest run for which the list call is used at all; default 50,000 (Alpaca
	// refuses lists above 100,000 and the window also holds other runs' journals).
	ListMax int
	// Sleep is the real-time pause between reconnects (tests shorten it); default a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// ProgressEvery is the real-time pace of the progress lines a long wait logs (journals final
	// of total, amount funded, time left); default 30s.
	ProgressEvery time.Duration
	// OnProgress, when set, is told where the run stands (journals final of total) about every
	// second of a long wait, besides the progress lines (a terminal's status line).
	OnProgress func(final, total int)
	// OnReconnect and OnHeal, when set, are told of each stream reconnect and each heal pass with
	// its reason (reconnect, dropped, deadline, ...), as they happen (metrics).
	OnReconnect func()
	OnHeal      func(reason string)
	// Submitted, when set, says the run's batches are still being sent as tracking starts: the
	// stream's events are applied meanwhile, but tracking ends only after it receives the run's
	// deadline here, once every batch is sent (Track's own deadline argument is then unused). An
	// event for a journal whose answer is not stored yet is kept and applied once it is.
	Submitted <-chan time.Time
	// Lease is how long a part of the run's tracking stays this process's once claimed or renewed
	// (renewed every Lease/3); a part whose holder stopped is taken by another tracker after it.
	// Default LeaseDefault.
	Lease time.Duration
	// Until, when set, is asked at every renewal whether a tracker that joined the night (Follow)
	// should stop: the night is no longer its to work on.
	Until func(ctx context.Context) (bool, error)

	kept *kept // where the run stands for the progress lines; set by Track
}

func (cfg Config) withDefaults() Config {
	cfg.PollEvery = cmp.Or(cfg.PollEvery, PollEveryDefault)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Wait == nil {
		cfg.Wait = alpaca.Sleep
	}
	if cfg.Sleep == nil {
		cfg.Sleep = alpaca.Sleep
	}
	if cfg.GetParallel <= 0 {
		cfg.GetParallel = 4
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeStream
	}
	if cfg.StreamIdle <= 0 {
		cfg.StreamIdle = 60 * time.Second
	}
	if cfg.ApplyParts <= 0 {
		cfg.ApplyParts = ApplyPartsDefault
	}
	if cfg.FlushEvents <= 0 {
		cfg.FlushEvents = FlushEventsDefault
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = time.Second
	}
	if cfg.ReplayMargin <= 0 {
		cfg.ReplayMargin = 5 * time.Second
	}
	if cfg.SinceMargin <= 0 {
		cfg.SinceMargin = time.Hour
	}
	if cfg.ReconnectMax <= 0 {
		cfg.ReconnectMax = 30 * time.Second
	}
	if cfg.HealListAbove <= 0 {
		cfg.HealListAbove = 100
	}
	if cfg.PassChunk <= 0 {
		cfg.PassChunk = 5000
	}
	if cfg.ListMax <= 0 {
		cfg.ListMax = 50_000
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 30 * time.Second
	}
	if cfg.OnReconnect == nil {
		cfg.OnReconnect = func() {}
	}
	if cfg.OnHeal == nil {
		cfg.OnHeal = func(string) {}
	}
	if cfg.Lease <= 0 {
		cfg.Lease = LeaseDefault
	}
	return cfg
}

// Result of a tracking session.
type Result struct {
	Passes     int // polling or heal passes
	Changed    int // status changes applied, by passes and by events
	Open       int // journals not final when tracking stopped
	Events     int // stream events received (duplicates and other journals' included)
	Connects   int // stream connections opened
	Dropped    int // times the stream reported lost messages
	Counts     int // times the run's open journals were counted in the table (stream mode)
	StreamMode bool
	Parts      int // parts of the run's tracking this process held when it stopped (stream mode)
}

type open struct {
	ID       int64  `db:"id"`
	AlpacaID string `db:"alpaca_id"`
	Status   string `db:"status"`
}

// Track follows the run's journals until every one Alpaca knows is final or the deadline passes,
// then marks the run tracked. It streams when cfg.Mode allows and the broker can; otherwise it polls.
func Track(ctx context.Context, db *sqlx.DB, broker Broker, runID int64, deadline time.Time, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	s, streams := broker.(Streamer)
	if cfg.Mode == ModePoll {
		streams = false
	}
	if cfg.Submitted != nil && !streams {
		// Passes wait between themselves on the run's clock: they begin once everything is sent.
		select {
		case deadline = <-cfg.Submitted:
			cfg.Submitted = nil
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	// The run's parts, and what their moves did so far, read before the run is counted: a move
	// another tracker commits in between is then counted twice, never missed.
	var sums0 partSums
	if streams {
		if err := store.OpenTrackParts(ctx, db, runID, TrackParts); err != nil {
			return Result{}, err
		}
		open, funded, err := store.TrackPartSums(ctx, db, runID)
		if err != nil {
			return Result{}, err
		}
		sums0 = partSums{open, funded}
	}
	// Beside sending, the run is counted once sending ends (the answers move journals tracking
	// never sees); until then a run nothing of which is sent yet stands where its batches say.
	var p Progress
	counted := true
	if cfg.Submitted != nil {
		var err error
		if p, counted, err = plannedProgress(ctx, db, runID); err != nil {
			return Result{}, err
		}
	}
	if counted {
		var err error
		if p, err = ReadProgress(ctx, db, runID); err != nil {
			return Result{}, err
		}
	}
	cfg.kept = &kept{runID: runID, p: p, deadline: deadline, sums0: sums0, sums: sums0}
	defer logProgress(ctx, runID, cfg)()
	if streams {
		res := Result{StreamMode: true}
		if counted {
			res.Counts++
		}
		return trackStream(ctx, db, broker, s, runID, deadline, cfg, res, sums0)
	}
	if cfg.Mode != ModePoll {
		cfg.Logger.Warn("broker has no event stream; tracking by polling", "run", runID)
	}
	var res Result
	for {
		n, changed, err := Pass(ctx, db, broker, runID, cfg)
		res.Passes++
		res.Changed += changed
		res.Open = n
		if err != nil {
			return res, err
		}
		cfg.Logger.Info("track pass", "run", runID, "changed", changed, "open", n)
		if cfg.AfterPass != nil {
			cfg.AfterPass()
		}
		if n == 0 || !cfg.Now().Before(deadline) {
			return res, markTracked(ctx, db, runID)
		}
		if err := cfg.Wait(ctx, min(cfg.PollEvery, deadline.Sub(cfg.Now()))); err != nil {
			return res, err
		}
	}
}

func markTracked(ctx context.Context, db *sqlx.DB, runID int64) error {
	_, err := store.MoveRun(ctx, db, runID, store.RunTracked, nil, time.Time{})
	return err
}

// Pass looks every open journal of the run up once and applies what changed. It returns how many
// stay open. Funded journals (executed, activity_created) are not open: watching them for
// reversals is a later, longer-lived job.
func Pass(ctx context.Context, db *sqlx.DB, broker Broker, runID int64, cfg Config) (stillOpen, changed int, err error) {
	return pass(ctx, db, broker, runID, cfg.withDefaults(), "poll", true)
}

// heal is a Pass for stragglers behind the stream: a few open journals are looked up by id, many
// by one list call, unless the run is too large for the list to be worth the try.
func heal(ctx context.Context, db *sqlx.DB, broker Broker, runID int64, cfg Config) (stillOpen, changed int, err error) {
	size, openN, err := store.CountSentJournals(ctx, db, runID)
	if err != nil {
		return 0, 0, fmt.Errorf("count journals: %w", err)
	}
	if openN == 0 {
		return 0, 0, nil
	}
	useList := openN > cfg.HealListAbove && size <= cfg.ListMax
	return pass(ctx, db, broker, runID, cfg, "heal", useList)
}

func pass(ctx context.Context, db *sqlx.DB, broker Broker, runID int64, cfg Config, source string, useList bool) (stillOpen, changed int, err error) {
	js, err := openChunk(ctx, db, runID, 0, cfg.PassChunk)
	if err != nil || len(js) == 0 {
		return 0, 0, err
	}
	seen := make(map[string]alpaca.Journal)
	if useList {
		var window struct {
			From    time.Time `db:"first"`
			To      time.Time `db:"last"`
			Rewards bool      `db:"rewards"`
		}
		if err := db.GetContext(ctx, &window, store.SentWindowSQL, runID); err != nil {
			return 0, 0, fmt.Errorf("batch window: %w", err)
		}
		// Only the run's open journals are kept of what the list answers.
		ours := make(map[string]bool, len(js))
		for _, j := range js {
			ours[strings.ToLower(j.AlpacaID)] = true
		}
		lists := []alpaca.ListFilter{{FromAccount: cfg.SweepAccount, EntryType: "JNLC",
			// The list filters by creation date; a day either side absorbs time zones.
			After:  window.From.AddDate(0, 0, -1).Format(time.DateOnly),
			Before: window.To.AddDate(0, 0, 1).Format(time.DateOnly),
		}}
		if window.Rewards {
			rewards := lists[0]
			rewards.FromAccount, rewards.EntryType = cmp.Or(cfg.RewardsAccount, cfg.SweepAccount), "JNLS"
			lists = append(lists, rewards)
		}
		for _, f := range lists {
			err := alpaca.EachJournalPaged(ctx, broker, f, alpaca.Narrow{Statuses: alpaca.Statuses}, func(a alpaca.Journal) error {
				if id := strings.ToLower(a.ID); ours[id] {
					seen[id] = a
				}
				return nil
			})
			switch {
			case err == nil:
			case errors.Is(err, alpaca.ErrWindowTooLarge):
				// What the list could not cover (and any journal in a status Alpaca added since) is
				// looked up one by one below.
				cfg.Logger.Info("journal list over Alpaca's limit in places; looking the rest up one by one", "run", runID, "err", err)
			default:
				return len(js), 0, fmt.Errorf("list %s journals: %w", f.EntryType, err)
			}
		}
	}
	recount := false
	for len(js) > 0 {
		still, n, moved, err := passChunk(ctx, db, broker, js, seen, cfg, source)
		stillOpen, changed = stillOpen+still, changed+n
		if err != nil {
			return stillOpen, changed, err
		}
		recount = recount || n != moved
		if js, err = openChunk(ctx, db, runID, js[len(js)-1].ID, cfg.PassChunk); err != nil {
			return stillOpen, changed, err
		}
	}
	if !recount {
		return stillOpen, changed, nil
	}
	// Some rows moved under us (the stream applied an event meanwhile) and kept their status:
	// what is open is what the database says, not what this pass saw.
	stillOpen, err = store.CountOpenJournals(ctx, db, runID)
	return stillOpen, changed, err
}

// openChunk reads up to n of the run's open journals after id after, in id order.
func openChunk(ctx context.Context, db *sqlx.DB, runID, after int64, n int) ([]open, error) {
	var js []open
	if err := db.SelectContext(ctx, &js, store.OpenJournalsSQL, runID, after, n); err != nil {
		return nil, fmt.Errorf("open journals: %w", err)
	}
	return js, nil
}

// passChunk looks up the journals js that the list did not answer for and applies what changed.
// It returns how many stay open, how many moved, and how many moves it asked for. What was seen
// of js is dropped from seen afterwards: no later chunk needs it.
func passChunk(ctx context.Context, db *sqlx.DB, broker Broker, js []open, seen map[string]alpaca.Journal, cfg Config, source string) (stillOpen, changed, asked int, err error) {
	defer func() {
		for _, j := range js {
			delete(seen, strings.ToLower(j.AlpacaID))
		}
	}()
	var missing []open
	for _, j := range js {
		if _, ok := seen[strings.ToLower(j.AlpacaID)]; !ok {
			missing = append(missing, j)
		}
	}
	if err := getEach(ctx, broker, missing, seen, cfg.GetParallel); err != nil {
		return len(js), 0, 0, err
	}

	var moves []store.JournalMove
	still := 0
	for _, j := range js {
		a, ok := seen[strings.ToLower(j.AlpacaID)]
		status := j.Status
		if ok && store.JournalMayMove(j.Status, a.Status) {
			moves = append(moves, store.JournalMove{ID: j.ID, Seen: j.Status, To: a.Status})
			status = a.Status
		}
		if !store.JournalFinal(status) {
			still++
		}
	}
	if len(moves) == 0 {
		return still, 0, 0, nil
	}
	n, err := applyChanges(ctx, db, cfg.kept, moves, source, cfg.Now().UTC())
	return still, n, len(moves), err
}

// applyChanges applies the moves, each from the status the lookup saw, and appends the history, in
// one statement. The lookups took time: a row the stream moved meanwhile keeps the stream's status,
// since the stream's may be the newer one. It returns how many moved.
func applyChanges(ctx context.Context, db *sqlx.DB, kept *kept, moves []store.JournalMove, source string, now time.Time) (int, error) {
	moved, err := store.MoveJournals(ctx, db, moves, source, now)
	kept.moved(moved)
	return len(moved), err
}

func getEach(ctx context.Context, broker Broker, js []open, seen map[string]alpaca.Journal, parallel int) error {
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, j := range js {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			a, err := broker.GetJournal(ctx, j.AlpacaID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("get journal %s: %w", j.AlpacaID, err)
				}
				return
			}
			seen[strings.ToLower(j.AlpacaID)] = *a
		}()
	}
	wg.Wait()
	return firstErr
}

// Progress is where a run's journals stand.
type Progress struct {
	Total  int `db:"total"`
	Final  int `db:"final"`
	Unsent int `db:"unsent"` // not final and without an answer from Alpaca yet
	// Funded is the amount of the journals executed (or activity_created).
	Funded decimal.Decimal `db:"funded"`
}

// Open is how many journals are not final, sent or not.
func (p Progress) Open() int { return p.Total - p.Final }

// ReadProgress counts the run's journals by where they stand.
func ReadProgress(ctx context.Context, db *sqlx.DB, runID int64) (Progress, error) {
	var p Progress
	err := db.GetContext(ctx, &p, store.JournalProgressSQL, runID)
	if err != nil {
		return p, fmt.Errorf("read progress: %w", err)
	}
	return p, nil
}

// plannedProgress is where the run stands while none of its batches is marked sending, read
// without counting its journals; counted says the run must be counted instead.
func plannedProgress(ctx context.Context, db *sqlx.DB, runID int64) (p Progress, counted bool, err error) {
	total, final, ok, err := store.PlannedProgress(ctx, db, runID)
	if err != nil {
		return p, false, fmt.Errorf("read progress: %w", err)
	}
	return Progress{Total: total, Final: final, Unsent: total - final}, !ok, nil
}

// kept is where a run stands while it is tracked: read from the table once when tracking starts,
// then moved by every change tracking commits, so that the progress lines never count the run again.
// The stream's moves are this process's own (own) while it holds every part of the run, every
// tracker's (the parts' sums since sums0) once another tracker holds or held some (shared).
type kept struct {
	runID int64
	mu    sync.Mutex
	p     Progress
	// deadline is when tracking stops; zero while the run's batches are still being sent.
	deadline    time.Time
	ownOpen     int
	ownFunded   decimal.Decimal
	sums, sums0 partSums
	shared      bool
}

// submitted takes in where the run stands once every batch is sent, its deadline, and the parts'
// sums read just before the run was counted.
func (k *kept) submitted(p Progress, deadline time.Time, sums partSums) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.p, k.deadline = p, deadline
	k.ownOpen, k.ownFunded, k.sums0, k.sums = 0, decimal.Zero, sums, sums
}

// moved takes in committed moves of a pass (a nil kept takes nothing: Pass called on its own).
func (k *kept) moved(ms []store.Moved) {
	if k == nil || len(ms) == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.p.Final -= store.OpenDelta(ms, k.runID)
	k.p.Funded = k.p.Funded.Add(store.FundedDelta(ms, k.runID))
}

// streamed takes in this process's committed stream moves (a tracker that joined keeps none).
func (k *kept) streamed(ms []store.Moved) {
	if k == nil || len(ms) == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ownOpen += store.OpenDelta(ms, k.runID)
	k.ownFunded = k.ownFunded.Add(store.FundedDelta(ms, k.runID))
}

// table takes in the parts' sums, read once the run is shared.
func (k *kept) table(s partSums) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sums, k.shared = s, true
}

func (k *kept) progress() Progress {
	p, _ := k.standing()
	return p
}

// standing is where the run stands and its deadline (zero while batches are being sent).
func (k *kept) standing() (Progress, time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.p
	if k.shared {
		p.Final -= int(k.sums.open - k.sums0.open)
		p.Funded = p.Funded.Add(k.sums.funded.Sub(k.sums0.funded))
	} else {
		p.Final -= k.ownOpen
		p.Funded = p.Funded.Add(k.ownFunded)
	}
	return p, k.deadline
}

// logProgress logs where the run stands every cfg.ProgressEvery until the returned stop is called;
// stop returns once nothing more will be logged.
func logProgress(ctx context.Context, runID int64, cfg Config) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// One reading serves both: the hook each tick, the log line every ProgressEvery.
		tick := cfg.ProgressEvery
		if cfg.OnProgress != nil {
			tick = min(tick, time.Second)
		}
		logEvery := max(1, int(cfg.ProgressEvery/tick))
		t := time.NewTicker(tick)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			logNow := n%logEvery == 0
			if !logNow && cfg.OnProgress == nil {
				continue
			}
			p, deadline := cfg.kept.standing()
			if cfg.OnProgress != nil {
				cfg.OnProgress(p.Final, p.Total)
			}
			if !logNow {
				continue
			}
			left := "sending" // the deadline counts from the end of sending
			if !deadline.IsZero() {
				left = max(deadline.Sub(cfg.Now()), 0).Round(time.Second).String()
			}
			cfg.Logger.Info("track progress", "run", runID, "final", p.Final, "total", p.Total, "open", p.Open(),
				"funded", p.Funded.StringFixed(2), "left", left)
		}
	}()
	return func() { cancel(); <-done }
}
