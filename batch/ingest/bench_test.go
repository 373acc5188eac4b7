package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// BenchmarkIngestAllocations loads a generated allocations file through Run and, in the same
// iteration, the same rows by plain COPY into the allocations table of another fresh database.
// It reports Run's rows/s, plain COPY's rows/s, their ratio and Run's peak heap. Run it with
//
//	go test ./batch/ingest/ -run '^$' -bench BenchmarkIngestAllocations -benchtime 1x
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

func plainCopy(b *testing.B, db *sqlx.DB, n int) {
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	var fileID int64
	if err := tx.QueryRow(`INSERT INTO files (sha256, name, kind, status, received_at)
		VALUES ('plain', 'plain.csv', 'allocations', 'loaded', now()) RETURNING id`).Scan(&fileID); err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.Prepare(`COPY allocations (file_id, line, receipt_id, account_id, amount, weight, client_ref, description) FROM STDIN`)
	if err != nil {
		b.Fatal(err)
	}
	var rec []string
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	for i := 0; i < n; i++ {
		rec = benchRow(i, rec)
		if _, err := stmt.Exec(fileID, i+2, rec[0], rec[1], null(rec[2]), null(rec[3]), rec[4], rec[5]); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := stmt.Exec(); err != nil {
		b.Fatal(err)
	}
	if err := stmt.Close(); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
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

func benchIngest(b *testing.B, n int) {
	src := filepath.Join(b.TempDir(), "allocations_bench.csv")
	writeBenchFile(b, src, n)
	var ingestTime, copyTime time.Duration
	var peak uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := schematest.DB(b)
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
		ingestTime += time.Since(start)
		b.StopTimer()
		if p := stop(); p > peak {
			peak = p
		}
		if err != nil || len(res.Files) != 1 || res.Files[0].Outcome != ingest.OutcomeLoaded || res.Files[0].Rows != n {
			b.Fatalf("Run: %v %+v", err, res)
		}

		plain := schematest.DB(b)
		start = time.Now()
		plainCopy(b, plain, n)
		copyTime += time.Since(start)
	}
	rows := float64(n * b.N)
	b.ReportMetric(rows/ingestTime.Seconds(), "rows/s")
	b.ReportMetric(rows/copyTime.Seconds(), "copy-rows/s")
	b.ReportMetric(copyTime.Seconds()/ingestTime.Seconds(), "ratio-vs-copy")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
