package alpaca

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Events and batch answers as the simulator and Alpaca send them, and the surprising shapes a
// quick decoder may get wrong: the seeds of the fuzz targets and the cases of the tests below.
var eventSeeds = []string{
	nightEvent(1),
	`{"at":"2021-05-07T10:28:23.163857Z","entry_type":"JNLC","event_id":"01F535Y1FVY8WZHE763HCNS8T0","journal_id":"2f144d2a-91e6-46ff-8e37-959a701cc58d","status_from":"","status_to":"queued"}`,
	`{"event_id":"01F5","journal_id":"j","status_from":"queued","status_to":"rejected","idempotency_key_type":"batch","batch_error_message":"insufficient \"cash\" \u2014 balance < 0 \\ retry","at":"2026-11-20T15:04:05+02:00"}`,
	`{"event_id":"01F5","journal_id":"j","description":"Caf\u00e9 \ud83d\udcb0 \ud83d \udcb0 \ud800\u0041 <&> \u003c\u0026\u003e \/ \b\f\n\r\t","at":"2026-11-20T15:04:05Z"}`,
	"{\"event_id\":\"01F5\",\"journal_id\":\"j\",\"description\":\"Café 💰 \xff\xfe bad utf-8 \xed\xa0\x80\",\"at\":null}",
	` { "event_id" : "01F5" , "journal_id" : "j" , "at" : "2026-11-20T15:04:05.999999999-07:00" , "extra" : [1,{"a":null}] } `,
	`{"event_id":"01F5","journal_id":"j","description":null,"status_to":null,"unknown":12.5e-3,"other":true,"x":false,"n":null}`,
	`{"event_id":"01F5","journal_id":"j","event_id":"01F6"}`,
	`{"event_id":"01F5","journal_id":"j","event_id":null}`,
	`{"Event_ID":"01F5","journal_id":"j"}`,
	`{"event_id":"01F5","JOURNAL_ID":"j","journal_id":"k"}`,
	"{\"event_id\":\"01F5\",\"journal_\u212a\":\"j\"}",
	`{"event_\u0069d":"01F5","journal_id":"j"}`,
	`{"event_id":7,"journal_id":"j"}`,
	`{"event_id":"01F5","journal_id":"j","at":"2026-11-20 15:04:05Z"}`,
	`{"event_id":"01F5","journal_id":"j","at":"2026-11-20T15:04:05\u005a"}`,
	`{"event_id":"01F5","journal_id":"j","at":1}`,
	`{"event_id":"01F5","journal_id":"j","LegacyID":5,"-":1}`,
	`{"event_id":"01F5","journal_id":"j",}`,
	`{"event_id":"01F5","journal_id":"j"} x`,
	`{"event_id":"01F5","journal_id":"j","n":01}`,
	`{"event_id":"01F5","journal_id":"j","n":-}`,
	`{"event_id":"01F5","journal_id":"j","n":1.}`,
	`{"event_id":"01F5","journal_id":"j","d":"tab	inside"}`,
	`{"event_id":"01F5","journal_id":"j","d":"\x"}`,
	`{"event_id":"01F5","journal_id":"j","d":"\u12"}`,
	`null`,
	`[]`,
	`{}`,
	``,
}

var batchSeeds = []string{
	string(nightBatchAnswer(3)),
	`[]`,
	` null `,
	`[{"id":"a","entry_type":"JNLC","from_account":"s","to_account":"c","symbol":null,"qty":null,"price":null,"status":"refused",` +
		`"settle_date":"","system_date":"0","net_amount":12.5,"description":"say \"hi\" \\ \u00e9\ud83d\ude00","currency":"USD",` +
		`"created_at":"2026-11-20T15:04:05Z","error_message":"insufficient funds: \"cash\" < amount",` +
		`"transmitter_name":"Jürgen","transmitter_account_number":"1","transmitter_address":"x","transmitter_financial_institution":"y","transmitter_timestamp":"z"}]`,
	`[{"id":"a","qty":"1.5","price":"-0.00","net_amount":"1e3"},{"id":"b","net_amount":"1E-3","qty":0,"price":-12}]`,
	`[{"id":"a","net_amount":"2.2.5"}]`,
	`[{"id":"a","net_amount":"\u0031"}]`,
	`[{"id":"a","net_amount":true}]`,
	`[{"id":"a","net_amount":{"v":1}}]`,
	`[{"id":"a","symbol":7}]`,
	`[{"id":"a","status":"queued","status":"executed"}]`,
	`[{"id":"a","Status":"queued"}]`,
	`[{"id":"a"},null]`,
	`[{"id":"a"},]`,
	`[{"id":"a"}`,
	`[{"id":"a"}]]`,
	`{"id":"a"}`,
	`[{"id":"a","error_message":null,"settle_date":null,"description":null}]`,
	`[{"id":"a","settle_date":"2026-11-20","system_date":"2026-11-20"},{"id":"b","settle_date":"2026-11-20","system_date":"2026-11-21"}]`,
	`[{"id":"a","created_at":"x"},{"id":"b","created_at":"x"},{"id":"c","created_at":"\u0078"}]`,
}

// FuzzDecodeEvent holds the quick event decoder to encoding/json: whatever it decodes, encoding/json
// decodes without error to the same event.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want JournalEvent
		if !quickEvent(data, &got) {
			return
		}
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("quick decoded %q, encoding/json refuses it: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) || got.At.String() != want.At.String() {
			t.Fatalf("%q:\nquick         %+v\nencoding/json %+v", data, got, want)
		}
	})
}

// FuzzDecodeBatchAnswer holds the quick batch answer decoder to encoding/json likewise.
func FuzzDecodeBatchAnswer(f *testing.F) {
	for _, s := range batchSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := quickBatchAnswer(data)
		if !ok {
			return
		}
		var want []BatchJournal
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("quick decoded %q, encoding/json refuses it: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nquick         %+v\nencoding/json %+v", data, got, want)
		}
	})
}

// Every seed decodes as encoding/json decodes it through the client's own paths, quick or not,
// with the same error text; and the shapes the night sends take the quick path.
func TestQuickDecodersMatchEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range eventSeeds {
		if s == "" || strings.ContainsAny(s, "\r\n") {
			continue // no event, or not one line of a stream
		}
		var want JournalEvent
		wantErr := json.Unmarshal([]byte(s), &want)
		var got []JournalEvent
		err := readEvents(strings.NewReader("data: "+s+"\n\n"), false, func(e JournalEvent) error {
			got = append(got, e)
			return nil
		})
		switch {
		case wantErr != nil:
			if err == nil || !strings.Contains(err.Error(), wantErr.Error()) {
				t.Errorf("%s: err %v, want encoding/json's %v", s, err, wantErr)
			}
		case want.EventID == "" || want.JournalID == "":
			if err == nil || len(got) != 0 {
				t.Errorf("%s: %d events, err %v; want an error for the missing id", s, len(got), err)
			}
		case err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], want):
			t.Errorf("%s: got %+v, err %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range batchSeeds {
		var want []BatchJournal
		wantErr := json.Unmarshal([]byte(s), &want)
		var got []BatchJournal
		err := decodeAll(&got, MaxAnswerBytes)(strings.NewReader(s))
		if wantErr != nil {
			if err == nil || err.Error() != undecodable(wantErr).Error() {
				t.Errorf("%s: err %v, want encoding/json's %v", s, err, wantErr)
			}
		} else if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, err %v; want %+v", s, got, err, want)
		}
	}

	var e JournalEvent
	if !quickEvent([]byte(nightEvent(7)), &e) || !quickEvent([]byte(eventSeeds[1]), &e) {
		t.Error("a night's event takes the slow path")
	}
	if _, ok := quickBatchAnswer(nightBatchAnswer(500)); !ok {
		t.Error("a night's batch answer takes the slow path")
	}
}

// Decoding a night's events and batch answers allocates little more than the strings it keeps:
// encoding/json's reflection took a third of a night's CPU and allocated twice as often. Not
// parallel: allocations are counted for the whole process.
func TestNightAnswersDecodeCheaply(t *testing.T) {
	var stream bytes.Buffer
	const events = 100
	for i := range events {
		stream.WriteString("data: " + nightEvent(i) + "\n\n")
	}
	perEvent := testing.AllocsPerRun(20, func() {
		if err := readEvents(bytes.NewReader(stream.Bytes()), false, func(JournalEvent) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}) / events
	// Four strings (event, journal, description, idempotency key); the rest are constants.
	if perEvent > 5 {
		t.Errorf("%.2f allocations per event, want at most 5", perEvent)
	}

	body := nightBatchAnswer(500)
	perJournal := testing.AllocsPerRun(20, func() {
		var out []BatchJournal
		if err := decodeAll(&out, MaxAnswerBytes)(bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}) / 500
	// id, to_account, description, the amount (two), the system date's pointer; the sweep account,
	// dates and statuses repeat.
	if perJournal > 8 {
		t.Errorf("%.2f allocations per journal, want at most 8", perJournal)
	}
}

// Every string of up to two bytes, and escapes around the surrogates, as a description: the quick
// decoder either leaves it to encoding/json or reads what encoding/json reads. The fuzz targets
// seldom build such strings by chance.
func TestQuickStringsMatchEncodingJSON(t *testing.T) {
	t.Parallel()
	var contents []string
	for a := range 256 {
		contents = append(contents, string([]byte{byte(a)}))
		for b := range 256 {
			contents = append(contents, string([]byte{byte(a), byte(b)}))
		}
	}
	escapes := []string{`\u0000`, `\u001f`, `\u007f`, `\u00e9`, `\ud7ff`, `\ud800`, `\udbff`, `\udc00`, `\udfff`, `\ue000`,
		`\uffff`, `\ufffd`, `\"`, `\\`, `\/`, `\b`, `\n`, `x`, "\xed\xa0\x80", "\xf0\x9f\x92\xb0", `\\u0041`}
	for _, a := range escapes {
		for _, b := range escapes {
			contents = append(contents, a+b, a+b+`\udc00`)
		}
	}
	quick := 0
	for _, c := range contents {
		data := []byte(`{"event_id":"e","journal_id":"j","description":"` + c + `"}`)
		var got, want JournalEvent
		if !quickEvent(data, &got) {
			continue
		}
		quick++
		if err := json.Unmarshal(data, &want); err != nil || got != want {
			t.Fatalf("%q: quick %q, encoding/json %q (err %v)", c, got.Description, want.Description, err)
		}
	}
	if quick < len(contents)/2 {
		t.Fatalf("only %d of %d strings took the quick path", quick, len(contents))
	}
}
