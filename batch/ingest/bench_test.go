package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// BenchmarkIngestAllocations loads a generated allocations file through Run and, in the same
// iteration, the same file with psql's \copy into the allocations table of another fresh database
// of the same server (so both run against the same settings, logged with the results), benchRounds
// times each way, alternating. It reports Run's rows/s and psql's at each one's fastest load,
// their ratio and Run's peak heap. Run it with
//
//	go test ./batch/ingest/ -run '^$' -bench BenchmarkIngestAllocations -benchtime 1x
//
// Without DATABASE_URL the databases are on the tests' throwaway cluster, which runs with fsync,
// synchronous_commit and full_page_writes off; point DATABASE_URL at a durable server to measure
// what a night sees.
func BenchmarkIngestAllocations(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) { benchIngest(b, n) })
	}
}

// benchRow is row i of the generated file; weights on every third row.
func benchRow(i int, rec []string) []string {
	rec = rec[:0]
	amount, weight := strconv.Itoa(1+i%5000)+"."+strconv.Itoa(10+i%90), ""
	if i%3 == 0 {
		amount, weight = "", "0."+strconv.Itoa(1+i%999)
	}
	return append(rec, "R-"+strconv.Itoa(i/10), fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1), amount, weight,
		"C-"+strconv.Itoa(i), "bench allocation")
}

func writeBenchFile(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("receipt_id,account_id,amount,weight,client_ref,description\n")
	var rec []string
	for i := 0; i < n; i++ {
		rec = benchRow(i, rec)
		fmt.Fprintf(w, "%s,%s,%s,%s,%s,%s\n", rec[0], rec[1], rec[2], rec[3], rec[4], rec[5])
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// psqlCopy loads the file at path into the allocations table of the database at url with psql's
// \copy, one statement of the file's own columns, and returns how long psql took. file_id and line,
// which the file does not carry, get constant defaults first: the table keeps every index,
// constraint and trigger that Run's COPY meets.
func psqlCopy(b *testing.B, url, path string, n int) time.Duration {
	psql, err := exec.LookPath("psql")
	if err != nil {
		b.Fatal("psql (PostgreSQL's client) is needed to compare with: ", err)
	}
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var fileID int64
	if err := db.QueryRow(`INSERT INTO files (sha256, name, kind, status, received_at)
		VALUES ('psql', 'psql.csv', 'allocations', 'loaded', now()) RETURNING id`).Scan(&fileID); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf(`ALTER TABLE allocations ALTER file_id SET DEFAULT %d, ALTER line SET DEFAULT 0`, fileID)); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c",
		`\copy allocations (receipt_id, account_id, amount, weight, client_ref, description) FROM `+
			pq.QuoteLiteral(path)+` WITH (FORMAT csv, HEADER true)`)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("psql \\copy: %v: %s", err, out)
	}
	var rows int
	if err := db.Get(&rows, `SELECT count(*) FROM allocations`); err != nil || rows != n {
		b.Fatalf("psql loaded %d rows (%v), want %d", rows, err, n)
	}
	return took
}

// durability is the server's fsync, synchronous_commit and full_page_writes settings.
func durability(b *testing.B, db *sqlx.DB) string {
	var s string
	if err := db.Get(&s, `SELECT format('fsync=%s synchronous_commit=%s full_page_writes=%s',
		current_setting('fsync'), current_setting('synchronous_commit'), current_setting('full_page_writes'))`); err != nil {
		b.Fatal(err)
	}
	return s
}

// sampleHeap records the largest live heap seen until stop is called.
func sampleHeap() (stop func() uint64) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			if v := samples[0].Value.Uint64(); v > peak {
				peak = v
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// benchRounds is how many times each iteration loads the file both ways, alternating: a single
// load either way swings by a fifth from one run to the next on a shared machine, and by half when
// something else takes the cores for a while (README, Benchmarks: Run 4.11, 6.99 and 6.51 s, psql
// 3.80, 6.60 and 4.19 s at 1M in one make bench). Each side's fastest load is what is reported and
// compared: what else runs on the machine only ever slows a load down.
const benchRounds = 3

func benchIngest(b *testing.B, n int) {
	src := filepath.Join(b.TempDir(), "allocations_bench.csv")
	writeBenchFile(b, src, n)
	var ingestTimes, psqlTimes []time.Duration
	var peak uint64
	settings := ""
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for range benchRounds {
			b.StopTimer()
			db := schematest.DB(b)
			settings = durability(b, db)
			dir := b.TempDir()
			if err := os.Link(src, filepath.Join(dir, "allocations_bench.csv")); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "allocations_bench.csv.ready"), nil, 0o644); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			stop := sampleHeap()
			b.StartTimer()
			start := time.Now()
			res, err := ingest.Run(context.Background(), db, ingest.Config{DropDir: dir, Now: func() time.Time { return testNow }})
			ingestTimes = append(ingestTimes, time.Since(start))
			b.StopTimer()
			if p := stop(); p > peak {
				peak = p
			}
			if err != nil || len(res.Files) != 1 || res.Files[0].Outcome != ingest.OutcomeLoaded || res.Files[0].Rows != n {
				b.Fatalf("Run: %v %+v", err, res)
			}
			psqlTimes = append(psqlTimes, psqlCopy(b, schematest.URL(b), src, n))
		}
	}
	ingestTime, psqlTime := slices.Min(ingestTimes), slices.Min(psqlTimes)
	b.ReportMetric(float64(n)/ingestTime.Seconds(), "rows/s")
	b.ReportMetric(float64(n)/psqlTime.Seconds(), "psql-rows/s")
	b.ReportMetric(psqlTime.Seconds()/ingestTime.Seconds(), "ratio-vs-psql")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.Logf("server: %s; each way %d times: Run %v, psql %v", settings, len(ingestTimes), ingestTimes, psqlTimes)
}
