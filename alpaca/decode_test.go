package alpaca_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca"
)

// listServer answers every GET /v1/journals with the array body writes, element by element.
func listServer(t *testing.T, body func(w *bufio.Writer)) (*alpaca.Client, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriter(w)
		body(bw)
		bw.Flush()
	}))
	t.Cleanup(ts.Close)
	// A call's deadline covers its whole answer: generous, for a slow machine or the race detector.
	return alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "k", Secret: "s", CallTimeout: 10 * time.Minute,
		Sleep: func(context.Context, time.Duration) error { return nil }}), &calls
}

func journalJSON(i int) string {
	return fmt.Sprintf(`{"id":"%08d-0000-4000-8000-000000000000","entry_type":"JNLC","from_account":%q,"to_account":%q,`+
		`"symbol":null,"qty":null,"price":null,"status":"executed","settle_date":"2026-11-20","system_date":"2026-11-20",`+
		`"net_amount":"%d.25","description":"payroll /cashpool/k=%032d","currency":"USD","created_at":"2026-11-20T15:00:00Z"}`,
		i, sweep, customer("01"), i, i)
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A list answer of 200,000 journals (about 100 MB of JSON, twice what Alpaca ever sends) is read
// with the heap never growing by more than a few megabytes: each journal is handed over as it is
// decoded, and neither the answer nor the list is ever held whole. Not parallel: the heap is
// measured while no other test runs.
func TestEachJournalDecodesIncrementally(t *testing.T) {
	const n = 200_000
	c, _ := listServer(t, func(w *bufio.Writer) {
		w.WriteString("[")
		for i := range n {
			if i > 0 {
				w.WriteString(",\n")
			}
			w.WriteString(journalJSON(i))
		}
		w.WriteString("]")
	})
	before := heapBytes()
	var peak uint64
	count := 0
	var sum int64
	err := c.EachJournal(context.Background(), alpaca.ListFilter{}, func(j alpaca.Journal) error {
		count++
		sum += j.NetAmount.Decimal.IntPart()
		if count%10_000 == 0 {
			peak = max(peak, heapBytes())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != n || sum != int64(n)*(n-1)/2 {
		t.Fatalf("%d journals summing %d, want %d", count, sum, n)
	}
	// The garbage of decoding comes and goes; what was read must never pile up. Holding the answer
	// (100 MB) or the decoded list would exceed this many times over.
	if grew := int64(peak) - int64(before); grew > 48<<20 {
		t.Fatalf("heap grew by %d MB while listing", grew>>20)
	}
	t.Logf("heap grew by at most %d KB while listing %d journals", (int64(peak)-int64(before))>>10, n)
}

// A malformed journal in the middle of an answer ends the call with an error; the journals before
// it were handed over, and the same answer is not asked again.
func TestEachJournalMalformedElementMidStream(t *testing.T) {
	t.Parallel()
	for name, bad := range map[string]string{
		"amount not a decimal": strings.Replace(journalJSON(2), `"2.25"`, `"2.2.5"`, 1),
		"not an object":        `"oops"`,
		"broken JSON":          `{"id":`,
		"id of the wrong type": `{"id":7}`,
	} {
		c, calls := listServer(t, func(w *bufio.Writer) {
			w.WriteString("[" + journalJSON(0) + "," + journalJSON(1) + "," + bad + "," + journalJSON(3) + "]")
		})
		var got []string
		err := c.EachJournal(context.Background(), alpaca.ListFilter{}, func(j alpaca.Journal) error {
			got = append(got, j.ID)
			return nil
		})
		if err == nil || len(got) != 2 {
			t.Errorf("%s: %d journals, err %v; want 2 and an error", name, len(got), err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%s: %d calls: a malformed answer is the same on every try", name, n)
		}
	}
}

// One element larger than any journal can be is refused before it is held, however large the
// whole answer may be.
func TestEachJournalRefusesAHugeElement(t *testing.T) {
	t.Parallel()
	var written atomic.Int64
	c, calls := listServer(t, func(w *bufio.Writer) {
		w.WriteString("[" + journalJSON(0) + `,{"id":"x","description":"`)
		chunk := strings.Repeat("x", 64<<10)
		for range 100 << 20 / len(chunk) { // 100 MB: under the answer's cap, far over a journal's
			if _, err := w.WriteString(chunk); err != nil {
				return // the client hung up, as it should
			}
			written.Add(int64(len(chunk)))
		}
		w.WriteString(`"}]`)
	})
	n := 0
	err := c.EachJournal(context.Background(), alpaca.ListFilter{}, func(alpaca.Journal) error { n++; return nil })
	if !errors.Is(err, alpaca.ErrAnswerTooLarge) || n != 1 {
		t.Fatalf("%d journals, err %v; want 1 and ErrAnswerTooLarge", n, err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls; an answer too large is never retried", calls.Load())
	}
}

// An error of the callback ends the call, comes back as is, and is never retried.
func TestEachJournalCallbackErrorEndsTheCall(t *testing.T) {
	t.Parallel()
	c, calls := listServer(t, func(w *bufio.Writer) {
		w.WriteString("[" + journalJSON(0) + "," + journalJSON(1) + "]")
	})
	stop := errors.New("stop here")
	n := 0
	err := c.EachJournal(context.Background(), alpaca.ListFilter{}, func(alpaca.Journal) error { n++; return stop })
	if err != stop || n != 1 || calls.Load() != 1 {
		t.Fatalf("err %v after %d journals and %d calls; want the callback's error after 1 and 1", err, n, calls.Load())
	}
}
