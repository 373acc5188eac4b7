package batch

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/robfig/cron/v3"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/bank/fedcal"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/store"
)

// Scheduler runs the nightly job on a cron schedule. Of several replicas only the one holding the
// leader lock (a PostgreSQL session advisory lock) runs; the rest wait for it. At start the leader
// finishes every unfinished run, then catches up every business date missed since the last
// completed one, which it keeps in PostgreSQL. A date the Fed is closed is not run unless
// RunOnHolidays. Runs never overlap and a panic in one is recovered
// and logged.
type Scheduler struct {
	Runner   *Runner
	Schedule cron.Schedule
	TZ       *time.Location
	Logger   *slog.Logger
	Now      func() time.Time
	// LeaderPoll is how often a standby replica tries for the lock; default 30s.
	LeaderPoll time.Duration
	// OnLeader reports leadership changes (for metrics).
	OnLeader func(bool)
	// OnStandby is called each time the lock was found held by another replica.
	OnStandby func()
	// MaxCatchUp bounds how many missed dates are run at start; default 31.
	MaxCatchUp int
	// RunLogger, when set, is the logger of one night's run (a run id on its every line).
	RunLogger func() *slog.Logger
	// RunOnHolidays runs nights on weekends and Fed holidays too; by default a date the Fed is
	// closed is not run, and the next business night takes its receipts (value date <= its date).
	RunOnHolidays bool
	// Identity names this replica as the leader the console shows; default the host name and
	// process id.
	Identity string
}

func (s *Scheduler) defaults() {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.LeaderPoll <= 0 {
		s.LeaderPoll = 30 * time.Second
	}
	if s.OnLeader == nil {
		s.OnLeader = func(bool) {}
	}
	if s.MaxCatchUp <= 0 {
		s.MaxCatchUp = 31
	}
	if s.Identity == "" {
		host, _ := os.Hostname()
		s.Identity = fmt.Sprintf("%s (pid %d)", cmp.Or(host, "unknown host"), os.Getpid())
	}
}

// Serve blocks until ctx ends: it becomes leader, catches up, then runs on schedule.
func (s *Scheduler) Serve(ctx context.Context) error {
	s.defaults()
	conn, unlock, err := s.becomeLeader(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	// A run in progress stops with the leadership (its own run lock and fence guard it as well).
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s.OnLeader(true)
	defer s.OnLeader(false)
	s.Logger.Info("leader: this replica runs the schedule", "identity", s.Identity)
	// Naming the leader is for people; a failure to record it leaves the schedule running.
	sweep := s.Runner.Config.SweepAccount
	if _, err := s.Runner.DB.ExecContext(ctx, recordLeader, sweep, s.Identity, s.Now().UTC()); err != nil {
		s.Logger.Error("record this replica as the leader", "err", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := s.Runner.DB.ExecContext(ctx, clearLeader, sweep, s.Identity); err != nil {
			s.Logger.Error("clear this replica as the leader", "err", err)
		}
	}()

	if err := s.CatchUp(ctx); err != nil {
		s.Logger.Error("catch-up", "err", err)
	}
	c := cron.New(cron.WithLocation(s.TZ), cron.WithLogger(cronLogger{s.Logger}),
		cron.WithChain(cron.Recover(cronLogger{s.Logger}), cron.SkipIfStillRunning(cronLogger{s.Logger})))
	c.Schedule(s.Schedule, cron.FuncJob(func() {
		date := s.Now().In(s.TZ).Format(time.DateOnly)
		if s.runsOn(date) {
			s.runDate(ctx, date)
		}
	}))
	c.Start()
	defer func() { <-c.Stop().Done() }()

	// Losing the lock's connection means another replica may take over: stop at once.
	t := time.NewTicker(s.LeaderPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := conn.PingContext(ctx); err != nil {
				err = fmt.Errorf("lost the leader lock's connection: %w", err)
				stop(err)
				return err
			}
		}
	}
}

// CurrentLeader names the replica that runs sweep's schedule and since when; "" when none does.
func CurrentLeader(ctx context.Context, db *sqlx.DB, sweep string) (holder string, since time.Time, err error) {
	var row struct {
		Holder string    `db:"holder"`
		Since  time.Time `db:"since"`
	}
	err = db.GetContext(ctx, &row, queryLeader, sweep)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	return row.Holder, row.Since, err
}

// becomeLeader waits until this replica holds the leader lock and returns its connection and
// release.
func (s *Scheduler) becomeLeader(ctx context.Context) (*sql.Conn, func(), error) {
	for {
		conn, unlock, err := schema.TryLock(ctx, s.Runner.DB.DB, "serve:"+s.Runner.Config.SweepAccount)
		if !errors.Is(err, schema.ErrBusy) {
			return conn, unlock, err
		}
		s.Logger.Info("standby: another replica is the runner")
		if s.OnStandby != nil {
			s.OnStandby()
		}
		// A standby shares the sending and tracking of a night the leader (or a `cashpool run`) has
		// open.
		if err := s.Runner.JoinOpenNights(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("standby: joining an open night failed; the night's runner sends and tracks it", "err", err)
		}
		if err := alpaca.Sleep(ctx, s.LeaderPoll); err != nil {
			return nil, nil, err
		}
	}
}

// CatchUp finishes every unfinished run up to today, oldest first, then runs every business date
// after the last completed one whose scheduled time has passed. An unfinished run that fails again
// does not stop the catch-up: every later run's report names it until it is finished.
func (s *Scheduler) CatchUp(ctx context.Context) error {
	s.defaults()
	open, err := store.UnfinishedThrough(ctx, s.Runner.DB, s.Runner.Config.SweepAccount, s.Now().In(s.TZ).Format(time.DateOnly))
	if err != nil {
		return fmt.Errorf("unfinished runs: %w", err)
	}
	for _, d := range open {
		s.Logger.Info("finishing an unfinished night", "date", d)
		if !s.runDate(ctx, d) && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	var last sql.NullTime
	err = s.Runner.DB.GetContext(ctx, &last, queryLastCompleted, s.Runner.Config.SweepAccount)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if !last.Valid {
		return nil // never ran: the schedule starts from its next fire
	}
	for _, d := range DueDates(s.Schedule, s.TZ, last.Time, s.Now(), s.MaxCatchUp) {
		if !s.runsOn(d) {
			continue
		}
		s.Logger.Info("catching up a missed night", "date", d)
		if !s.runDate(ctx, d) {
			return fmt.Errorf("catch-up stopped at %s", d)
		}
	}
	return nil
}

// DueDates lists the business dates after last whose scheduled run time is at or before now, at
// most max of them, oldest first. A business date is the date, in tz, of a fire time.
func DueDates(sched cron.Schedule, tz *time.Location, last, now time.Time, max int) []string {
	lastDate := time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, tz)
	var out []string
	seen := map[string]bool{}
	for t := sched.Next(lastDate.AddDate(0, 0, 1).Add(-time.Second)); !t.After(now) && len(out) < max; t = sched.Next(t) {
		d := t.In(tz).Format(time.DateOnly)
		if d <= lastDate.Format(time.DateOnly) || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, d)
	}
	return out
}

// runsOn reports whether date's night is run: a Fed business day, or any date with RunOnHolidays.
// An unfinished run is finished whatever its date.
func (s *Scheduler) runsOn(date string) bool {
	if s.RunOnHolidays {
		return true
	}
	d, err := time.Parse(time.DateOnly, date)
	if err != nil || fedcal.IsBusinessDay(d) {
		return true
	}
	name, _ := fedcal.Holiday(d)
	s.Logger.Info("not a Fed business day: no night is run", "date", date, "holiday", name)
	return false
}

// runDate runs one date and records it completed. Exceptions for a person still complete the date;
// a failure does not.
func (s *Scheduler) runDate(ctx context.Context, date string) bool {
	r, log := s.Runner, s.Logger
	if s.RunLogger != nil {
		log = s.RunLogger()
		night := *s.Runner
		night.Config.Logger = log
		r = &night
	}
	out, err := r.Run(ctx, date)
	if err != nil {
		log.Error("run failed", "date", date, "err", err)
		return false
	}
	log.Info("run finished", "date", date, "exceptions", out.Report.Totals.Exceptions, "paths", out.Paths)
	_, err = s.Runner.DB.ExecContext(ctx, recordCompleted, s.Runner.Config.SweepAccount, date, s.Now().UTC())
	if err != nil {
		log.Error("record completed date", "date", date, "err", err)
		return false
	}
	return true
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}
