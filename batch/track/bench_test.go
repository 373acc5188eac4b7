package track_test

import (
	"context"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/track"
)

// BenchmarkTrackCalls100k counts the broker calls that tracking 100,000 journals of one run costs,
// beyond the 100 batch POSTs that created them: the stream first, then polling on the same
// journals for comparison.
//
//	go test -run '^$' -bench BenchmarkTrackCalls100k -benchtime 1x ./batch/track/
func BenchmarkTrackCalls100k(b *testing.B) {
	const batches, perBatch = 100, 1000
	const journals = batches * perBatch
	for range b.N {
		b.StopTimer()
		bd := setup(b, sandbox.Faults{}, nil)
		for range batches {
			bd.post(b, perBatch, true, "")
		}
		bd.sim.Advance(3 * time.Second) // every journal executed at the simulator
		cfg := bd.config()
		cfg.FlushEvery = 200 * time.Millisecond
		b.StartTimer()

		before := bd.client.Calls()
		t0 := time.Now()
		res := bd.trackFor(b, cfg, 100*time.Second)
		streamTook := time.Since(t0)
		stream := bd.client.Calls() - before
		if res.Open != 0 {
			b.Fatalf("stream left %d open: %+v", res.Open, res)
		}

		b.StopTimer()
		if _, err := bd.db.Exec(`UPDATE journals SET status = 'queued'`); err != nil {
			b.Fatal(err)
		}
		cfg.Mode = track.ModePoll
		before = bd.client.Calls()
		res = bd.trackFor(b, cfg, 100*time.Second)
		poll := bd.client.Calls() - before
		if res.Open != 0 {
			b.Fatalf("poll left %d open: %+v", res.Open, res)
		}

		b.ReportMetric(float64(stream)/(journals/1000), "calls/1k-journals")
		b.ReportMetric(float64(stream), "stream-calls")
		b.ReportMetric(streamTook.Seconds(), "stream-s")
		b.ReportMetric(float64(poll)/(journals/1000), "poll-calls/1k-journals")
		b.ReportMetric(float64(poll), "poll-calls")
	}
}

// trackFor is track with a longer safety net for large runs.
func (b *bundle) trackFor(tb testing.TB, cfg track.Config, limit time.Duration) track.Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	res, err := track.Track(ctx, b.db, b.client, b.runID, b.sim.Now().Add(time.Hour), cfg)
	if err != nil {
		tb.Fatalf("track: %v (%+v)", err, res)
	}
	return res
}
