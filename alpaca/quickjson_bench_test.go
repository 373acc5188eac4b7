package alpaca

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// nightEvent is a stream event shaped like those of a night: a batch journal's status change.
func nightEvent(i int) string {
	return fmt.Sprintf(`{"event_id":"01KB%022d","at":"2026-11-20T15:04:05.%09dZ","journal_id":"%08x-91e6-46ff-8e37-959a701cc58d",`+
		`"entry_type":"JNLC","status_from":"queued","status_to":"executed","description":"Payroll funding W%08d cp:%08x-5c1e-8a2b-9d3e-4f5a6b7c8d9e",`+
		`"idempotency_key":"72bdf18f-5c1e-8a2b-9d3e-%012x","idempotency_key_type":"batch"}`, i, i%1_000_000_000, i, i/10, i, i)
}

// nightBatchAnswer is a batch answer of n journals shaped like Alpaca's (and the simulator's):
// one sweep account, every journal queued, error_message omitted on success.
func nightBatchAnswer(n int) []byte {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"%08x-91e6-46ff-8e37-959a701cc58d","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748",`+
			`"to_account":"%08x-0c48-4ec4-9a1b-2b8a8e4d4f1c","symbol":null,"qty":null,"price":null,"status":"queued",`+
			`"settle_date":null,"system_date":"2026-11-20","net_amount":"%d.%02d","description":"Payroll funding W%08d cp:%08x-5c1e-8a2b-9d3e-4f5a6b7c8d9e",`+
			`"currency":"USD","created_at":"2026-11-20T15:04:05.123456789Z"}`, i, i*7, 100+i*13, i%100, i/10, i)
	}
	b.WriteString("]")
	return []byte(b.String())
}

// BenchmarkReadEvents reads a stream of realistic events; one op is one event.
func BenchmarkReadEvents(b *testing.B) {
	var stream bytes.Buffer
	const n = 10_000
	for i := range n {
		stream.WriteString("data: " + nightEvent(i) + "\n\n")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += n {
		seen := 0
		err := readEvents(bytes.NewReader(stream.Bytes()), false, func(JournalEvent) error {
			seen++
			if done+seen == b.N {
				return errStopBench
			}
			return nil
		})
		if err != nil && err != errStopBench {
			b.Fatal(err)
		}
	}
}

var errStopBench = fmt.Errorf("enough")

// BenchmarkDecodeBatchAnswer decodes a realistic answer of 500 journals; one op is one answer.
func BenchmarkDecodeBatchAnswer(b *testing.B) {
	body := nightBatchAnswer(500)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var out []BatchJournal
		if err := decodeAll(&out, MaxAnswerBytes)(bytes.NewReader(body)); err != nil || len(out) != 500 {
			b.Fatal(len(out), err)
		}
	}
}
