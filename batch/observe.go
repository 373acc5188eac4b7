package batch

import (
	"time"

	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/reconcile"
)

// Observer is told what the pipeline does, as it happens, for metrics; the command passes one in
// Config.Observer, so the pipeline itself depends on no metrics library.
type Observer interface {
	// Step: one of the steps (ingest, plan, submit, track, reconcile) took d, done or failed.
	Step(step string, d time.Duration)
	// Files: what ingest did with the drop folder's files.
	Files(res ingest.Result)
	// NightFinished: a night's report was written and its run marked finished, at at.
	NightFinished(rep *reconcile.Report, at time.Time)
	// NightFailed: a run of the sweep account stopped with an error at at.
	NightFailed(sweep string, at time.Time)
	// Unfinished: how many earlier nights of the sweep account are not finished after a run.
	Unfinished(sweep string, n int)
	// StreamReconnect and Heal: tracking reconnected the event stream, ran a heal pass for reason.
	StreamReconnect()
	Heal(reason string)
}

// noObserver observes nothing: the runner's default.
type noObserver struct{}

func (noObserver) Step(string, time.Duration)                 {}
func (noObserver) Files(ingest.Result)                        {}
func (noObserver) NightFinished(*reconcile.Report, time.Time) {}
func (noObserver) NightFailed(string, time.Time)              {}
func (noObserver) Unfinished(string, int)                     {}
func (noObserver) StreamReconnect()                           {}
func (noObserver) Heal(string)                                {}

// timed tells the observer how long step took once the function it is deferred in returns.
func (c Config) timed(step string) func() {
	start := time.Now()
	return func() { c.Observer.Step(step, time.Since(start)) }
}
