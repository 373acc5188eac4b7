package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/console"
)

const sweep = "8f8c8cee-2591-4f83-be12-82c659b5e748"

// TestPostsNeedTokenPersonAndSameOrigin: what a POST must carry before the console looks at it,
// against status codes written out here. Nothing is filed, so no night is needed.
func TestPostsNeedTokenPersonAndSameOrigin(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	readOnly := httptest.NewServer(console.New(console.Config{DB: db, SweepAccount: sweep}))
	t.Cleanup(readOnly.Close)
	writable := httptest.NewServer(console.New(console.Config{DB: db, SweepAccount: sweep, Token: "tok", UserHeader: "X-Forwarded-User"}))
	t.Cleanup(writable.Close)

	post := func(base string, hdr map[string]string) int {
		req, _ := http.NewRequest("POST", base+"/nights/2026-11-20/redrive", strings.NewReader(url.Values{"reason": {"x"}, "csrf": {"forged"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, c := range []struct {
		name string
		base string
		hdr  map[string]string
		want int
	}{
		{"read-only console", readOnly.URL, map[string]string{"X-Forwarded-User": "alice", console.TokenHeader: "tok"}, http.StatusForbidden},
		{"user header without the token", writable.URL, map[string]string{"X-Forwarded-User": "alice"}, http.StatusForbidden},
		{"wrong token", writable.URL, map[string]string{"X-Forwarded-User": "alice", console.TokenHeader: "nope"}, http.StatusForbidden},
		{"token without a person", writable.URL, map[string]string{console.TokenHeader: "tok"}, http.StatusForbidden},
		{"a form that is not the person's", writable.URL, map[string]string{"X-Forwarded-User": "alice", console.TokenHeader: "tok"}, http.StatusForbidden},
		{"another site", writable.URL, map[string]string{"X-Forwarded-User": "alice", console.TokenHeader: "tok", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	} {
		if got := post(c.base, c.hdr); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	// Who the page says you are: the user header counts only beside the token.
	for hdr, want := range map[string]string{"": "not identified: read-only", "tok": `signed in as <b id="person">alice</b>`} {
		req, _ := http.NewRequest("GET", writable.URL+"/", nil)
		req.Header.Set("X-Forwarded-User", "Alice")
		if hdr != "" {
			req.Header.Set(console.TokenHeader, hdr)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("token %q: the page does not say %s", hdr, want)
		}
	}
	// The database refuses a self-approval whatever the console does.
	if _, err := db.Exec(`INSERT INTO redrive_requests (sweep_account, business_date, requester, reason, preview, created_at, approver, approved_at, state)
		VALUES ($1, '2026-11-20', 'alice', 'r', 'p', now(), 'alice', now(), 'approved')`, sweep); err == nil {
		t.Error("the database took a request approved by its requester")
	}
}
