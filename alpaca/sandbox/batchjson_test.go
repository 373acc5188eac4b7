package sandbox

import (
	"reflect"
	"testing"
)

// FuzzDecodeBatch holds decodeBatch to encoding/json: for any body, the same request or the same
// error. The seeds are the shapes the hand-written reader takes and the ones it must leave alone.
func FuzzDecodeBatch(f *testing.F) {
	for _, body := range []string{
		`{"entry_type":"JNLC","from_account":"a","entries":[{"to_account":"b","amount":"1.00"}]}`,
		" \t\r\n{ \"entry_type\" : \"JNLC\" , \"entries\" : [ ] , \"description\" : \"d\" } \n",
		`{"entry_type":"JNLC","from_account":"a","description":"batch","correspondent":"c","entries":[` +
			`{"to_account":"b","amount":"1.00","description":"é ☃ <a&b>","currency":"USD","symbol":"","qty":"",` +
			`"transmitter_name":"n","transmitter_account_number":"1","transmitter_address":"x",` +
			`"transmitter_financial_institution":"f","transmitter_timestamp":"2026-03-02T00:00:00Z"},{}]}`,
		`{"entries":[{"to_account":"b","transmitter_name":"n"},{"to_account":"b","transmitter_name":"n"},` +
			`{"to_account":"c","transmitter_name":"m","transmitter_address":"x"},{"transmitter_address":"x"}]}`,
		`{"entries":[{"amount":7}]}`,
		`{"entries":[{"amount":-1.5e3}]}`,
		`{"entries":[{"amount":null,"currency":null}]}`,
		`{"entries":null}`,
		`{"entry_type":null}`,
		`{"entry_type":"a\"b\\c\u00e9\ud83d\ude00"}`,
		"{\"entry_type\":\"\xff\xfe\"}",
		"{\"entry_type\":\"a\tb\"}",
		`{"Entry_Type":"JNLC","ENTRIES":[{"To_Account":"b"}]}`,
		`{"entry_type":"JNLC","entry_type":"JNLS"}`,
		`{"entries":[{"to_account":"a"}],"entries":[{"amount":"1"}]}`,
		`{"entries":[{"to_account":"a","to_account":"b"}]}`,
		`{"unknown":{"nested":[1,2,{"x":null}]},"entry_type":"JNLC"}`,
		`{"entry_type":"JNLC"}]`,
		`{"entry_type":"JNLC"}}`,
		`{"entry_type":"JNLC"} {}`,
		`{"entry_type":"JNLC"} x`,
		`{"entry_type":"JNLC",}`,
		`{"entries":[{"to_account":"b"},]}`,
		`{"entries":[{"to_account":"b"}`,
		`{"entry_type":1}`,
		`{"entries":{}}`,
		`{"entries":["x"]}`,
		`[]`,
		`null`,
		``,
		`{`,
		`{"entry_type":"JNLC"`,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got, want batchRequest
		gotErr, wantErr := decodeBatch(body, &got), decodeBody(body, &want)
		if !reflect.DeepEqual(gotErr, wantErr) {
			t.Fatalf("body %q: error %v, encoding/json says %v", body, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("body %q: decoded %+v, encoding/json decodes %+v", body, got, want)
		}
	})
}

// The body a client sends is read by hand, not left to encoding/json (FuzzDecodeBatch alone
// would pass if nothing were).
func TestDecodeBatchReadsByHand(t *testing.T) {
	t.Parallel()
	body := `{"entry_type":"JNLC","from_account":"a","description":"batch","entries":[` +
		`{"to_account":"b","amount":"1.00","description":"Payroll é","transmitter_name":"n",` +
		`"transmitter_account_number":"1","transmitter_address":"x","transmitter_financial_institution":"f",` +
		`"transmitter_timestamp":"2026-03-02T00:00:00Z"},{"to_account":"c","amount":"2.50"}]}` + "\n"
	p := batchParser{b: []byte(body)}
	var req batchRequest
	if !p.request(&req) {
		t.Fatalf("the hand-written reader left %q to encoding/json", body)
	}
}
