package alpaca

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// Client calls Alpaca's journal endpoints. It is safe for concurrent use.
type Client struct {
	base    string
	keyID   string
	secret  string
	http    *http.Client
	timeout time.Duration
	retries int
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	calls   atomic.Int64
	pace    pacer
	onWait  func(time.Duration)
	log     *slog.Logger
}

// Answer size limits. An answer over its limit is an error wrapping ErrAnswerTooLarge, read no
// further, so a broken or hostile server cannot exhaust memory.
//
// One journal takes about 400 bytes of JSON with an empty description, and 2.6 KB with a full
// 1,024-byte description and every Travel Rule field at its 255-character maximum.
const (
	// MaxListAnswerBytes bounds the answer of GET /v1/journals. Alpaca answers at most 100,000
	// journals (422 beyond): 100,000 of the largest journals take 262 MB, and the rest is room for
	// whitespace and escaped characters.
	MaxListAnswerBytes = 320 << 20
	// MaxAnswerBytes bounds every other answer: a batch answer of 20,000 of the largest journals
	// (2.7 KB each with error_message) takes 54 MB.
	MaxAnswerBytes = 64 << 20
	// maxErrorBytes bounds what is read of a non-2xx answer: only its message is kept.
	maxErrorBytes = 64 << 10
)

// ErrAnswerTooLarge means an answer exceeded its stated limit (MaxListAnswerBytes, MaxAnswerBytes
// or MaxStreamLineBytes). It is never retried: the same request would get the same answer.
var ErrAnswerTooLarge = errors.New("alpaca: answer larger than its limit")

// ErrRedirect means the broker answered with a redirect (3xx). The client never follows one: a
// 307 or 308 would send the same money-moving body again, with its credentials, wherever the
// Location points. It is never retried; the broker URL is probably wrong.
var ErrRedirect = errors.New("alpaca: the broker answered with a redirect, which is never followed")

// Options configure a Client. Zero values take the defaults given.
type Options struct {
	BaseURL     string        // e.g. https://broker-api.sandbox.alpaca.markets
	KeyID       string        // APCA_API_KEY_ID
	Secret      string        // APCA_API_SECRET_KEY
	HTTPClient  *http.Client  // default: a client with keep-alive and no overall timeout; redirects are refused either way
	CallTimeout time.Duration // deadline of one HTTP attempt; default 30s
	Retries     int           // attempts after the first for retryable failures; default 5
	Now         func() time.Time
	// Sleep waits between attempts and for a rate-limit reset; default a timer. A test on a
	// simulated clock moves that clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRateLimitWait, when set, is told of every pause the rate limit imposes: pacing within the
	// announced budget, or a 429's wait for the reset (metrics).
	OnRateLimitWait func(d time.Duration)
	// Logger is told of every retry and every wait for a rate-limit reset (warn and info), and of
	// pacing within the budget (debug): by endpoint template, never by URL. Default: discarded.
	Logger *slog.Logger
}

// NewTransport is the client's default transport: keep-alive, proxies from the environment. A
// caller that wraps it (metrics) passes the result in Options.HTTPClient. Its connections read and
// write 64 KB at a time, not net/http's 4 KB: the event stream of a million-journal night is some
// 750 MB, and a batch's body 128 KB.
func NewTransport() *http.Transport {
	return &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 32, IdleConnTimeout: 90 * time.Second,
		ReadBufferSize: connBufferSize, WriteBufferSize: connBufferSize}
}

// connBufferSize is the size of each connection's read and write buffers.
const connBufferSize = 64 << 10

// NewClient builds a client. The secret is only ever put in the Authorization header.
func NewClient(o Options) *Client {
	c := &Client{
		base: o.BaseURL, keyID: o.KeyID, secret: o.Secret,
		timeout: o.CallTimeout, retries: o.Retries, now: o.Now,
	}
	if o.HTTPClient != nil {
		hc := *o.HTTPClient // a copy: the caller's client keeps its own redirect policy
		c.http = &hc
	} else {
		c.http = &http.Client{Transport: NewTransport()}
	}
	// Hand every 3xx back unfollowed; once and StreamJournalEvents turn it into ErrRedirect.
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.timeout == 0 {
		c.timeout = 30 * time.Second
	}
	if o.Retries == 0 {
		c.retries = 5
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.sleep = o.Sleep
	if c.sleep == nil {
		c.sleep = Sleep
	}
	c.log = o.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.onWait = o.OnRateLimitWait
	if c.onWait == nil {
		c.onWait = func(time.Duration) {}
	}
	return c
}

// Calls is the number of HTTP requests this client has made, retries included.
func (c *Client) Calls() int64 { return c.calls.Load() }

// CreateBatch sends POST /v1/journals/batch with body (the exact bytes; a retry resends them
// unchanged) and key as Idempotency-Key. Timeouts, connection failures, 5xx and 429 are retried with
// the same key and body, which Alpaca answers with the original result. Any other non-2xx answer
// comes back as *APIError.
func (c *Client) CreateBatch(ctx context.Context, key string, body []byte) ([]BatchJournal, error) {
	if key == "" {
		return nil, errors.New("alpaca: a batch is never sent without an Idempotency-Key")
	}
	var out []BatchJournal
	err := c.do(ctx, http.MethodPost, "/v1/journals/batch", nil, body, key, decodeAll(&out, MaxAnswerBytes))
	return out, err
}

// CreateJournal sends POST /v1/journals with key as Idempotency-Key; retried like CreateBatch.
func (c *Client) CreateJournal(ctx context.Context, key string, req CreateJournalRequest) (*Journal, error) {
	if key == "" {
		return nil, errors.New("alpaca: a journal is never sent without an Idempotency-Key")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return c.CreateJournalBody(ctx, key, body)
}

// CreateJournalBody sends POST /v1/journals with body, the exact bytes of one journal request (a
// retry, and a resend after a crash, send them unchanged), and key as Idempotency-Key; retried like
// CreateBatch. Any other non-2xx answer comes back as *APIError.
func (c *Client) CreateJournalBody(ctx context.Context, key string, body []byte) (*Journal, error) {
	if key == "" {
		return nil, errors.New("alpaca: a journal is never sent without an Idempotency-Key")
	}
	var j Journal
	if err := c.do(ctx, http.MethodPost, "/v1/journals", nil, body, key, decodeAll(&j, MaxAnswerBytes)); err != nil {
		return nil, err
	}
	return &j, nil
}

// ReverseBatchRequest is the body of POST /v1/journals/reverse_batch: many customers to one firm
// account.
type ReverseBatchRequest struct {
	EntryType string              `json:"entry_type"`
	ToAccount string              `json:"to_account"`
	Entries   []ReverseBatchEntry `json:"entries"`
}

// ReverseBatchEntry is one source of a reverse batch.
type ReverseBatchEntry struct {
	FromAccount string `json:"from_account"`
	Amount      string `json:"amount"`
	Description string `json:"description,omitempty"`
}

// ReverseBatch sends POST /v1/journals/reverse_batch. Alpaca takes no Idempotency-Key there, so it
// is never retried: after a failure the caller must look at the journals before trying again.
func (c *Client) ReverseBatch(ctx context.Context, req ReverseBatchRequest) ([]Journal, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out []Journal
	err = c.do(ctx, http.MethodPost, "/v1/journals/reverse_batch", nil, body, "", decodeAll(&out, MaxAnswerBytes))
	return out, err
}

// GetJournal fetches one journal by Alpaca's id.
func (c *Client) GetJournal(ctx context.Context, id string) (*Journal, error) {
	var j Journal
	if err := c.do(ctx, http.MethodGet, "/v1/journals/"+url.PathEscape(id), nil, nil, "", decodeAll(&j, MaxAnswerBytes)); err != nil {
		return nil, err
	}
	return &j, nil
}

// ListFilter are the query parameters of GET /v1/journals. Dates are YYYY-MM-DD.
type ListFilter struct {
	After, Before, Status, EntryType, ToAccount, FromAccount string
	Limit                                                    int
}

// EachJournal calls GET /v1/journals and hands fn each journal of the answer as it is decoded, so
// the answer is never held whole. Alpaca answers 422 when more than 100,000 journals match and has
// no pagination: EachJournalPaged splits such a window. fn runs while the answer is read, within
// the call's deadline (Options.CallTimeout), so it keeps what it needs and does no slow work. An
// error of fn ends the call and is returned as is. A retry after an answer broken off midway
// starts the list again, so fn may see a journal twice: callers keep what they learn by id.
func (c *Client) EachJournal(ctx context.Context, f ListFilter, fn func(Journal) error) error {
	q := url.Values{}
	for k, v := range map[string]string{"after": f.After, "before": f.Before, "status": f.Status,
		"entry_type": f.EntryType, "to_account": f.ToAccount, "from_account": f.FromAccount} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return c.do(ctx, http.MethodGet, "/v1/journals", q, nil, "", decodeEach(fn))
}

// DeleteJournal cancels a pending journal (204). Not retried: a lost answer is checked with GetJournal.
func (c *Client) DeleteJournal(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/journals/"+url.PathEscape(id), nil, nil, "", decodeAll(nil, MaxAnswerBytes))
}

// retryable reports whether a failed attempt may be repeated. A POST is only ever repeated with its
// Idempotency-Key, which the callers above guarantee.
func retryable(method, key string, status int, err error) bool {
	if method == http.MethodPost && key == "" {
		return false
	}
	if method == http.MethodDelete {
		return false
	}
	if err != nil {
		return true // timeouts, resets, refused connections
	}
	return status == http.StatusTooManyRequests || status >= 500
}

// decoder reads a 2xx answer.
type decoder func(r io.Reader) error

// do sends one request, retried as retryable allows; decode reads a 2xx answer.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, key string, decode decoder) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var lastErr error
	bo := NewBackOff(5 * time.Second)
	for attempt := 0; attempt <= c.retries; attempt++ {
		if err := c.waitTurn(ctx, path); err != nil {
			return err
		}
		status, wait, err := c.once(ctx, method, path, u, body, key, decode)
		if err == nil {
			return nil
		}
		lastErr = err
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var cbErr *callbackError
		if errors.As(err, &cbErr) {
			return cbErr.err
		}
		if errors.Is(err, ErrRedirect) || errors.Is(err, ErrAnswerTooLarge) || errors.Is(err, errBadBaseURL) {
			return err
		}
		if !retryable(method, key, status, transportErr(err)) {
			return err
		}
		if attempt == c.retries {
			break // no wait before giving up
		}
		if wait > 0 {
			c.onWait(wait) // a 429: Alpaca's reset decides
			c.log.Warn("broker: rate limited (429), waiting for the reset before retrying", "method", method,
				"route", Route(path), "attempt", attempt+1, "of", c.retries+1, "wait", wait)
		} else {
			wait = bo.NextBackOff()
			c.log.Warn("broker: call failed, retrying", "method", method, "route", Route(path),
				"attempt", attempt+1, "of", c.retries+1, "status", status, "err", err, "wait", wait)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
	}
	return fmt.Errorf("alpaca: %s %s: giving up after %d attempts: %w", method, path, c.retries+1, lastErr)
}

// transportErr returns err when the request failed below HTTP (no status), nil otherwise.
func transportErr(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return nil
	}
	return err
}

func (c *Client) once(ctx context.Context, method, path, u string, body []byte, key string, decode decoder) (status int, wait time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := c.newRequest(ctx, method, path, u, rd)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	c.calls.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		c.pace.lost()
		return 0, 0, fmt.Errorf("alpaca: %s %s: %w", method, path, unwrapURL(err))
	}
	defer resp.Body.Close()
	wait = c.pace.answered(resp.Header, c.now())
	if err := redirectError(method, path, resp); err != nil {
		return resp.StatusCode, 0, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		if resp.StatusCode != http.StatusTooManyRequests {
			wait = 0
		}
		return resp.StatusCode, wait, decodeAPIError(resp.StatusCode, data)
	}
	if resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, 0, nil
	}
	if err := decode(resp.Body); err != nil {
		var apiErr *APIError
		var cbErr *callbackError
		switch {
		case errors.As(err, &apiErr), errors.As(err, &cbErr):
			return resp.StatusCode, 0, err
		case errors.Is(err, ErrAnswerTooLarge):
			return resp.StatusCode, 0, fmt.Errorf("%w: %s %s", err, method, path)
		}
		return resp.StatusCode, 0, fmt.Errorf("alpaca: %s %s: reading answer: %w", method, path, err)
	}
	return resp.StatusCode, 0, nil
}

// newRequest builds a request with Basic auth. A base URL that does not parse is reported without
// its text, which may hold a password.
func (c *Client) newRequest(ctx context.Context, method, path, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("alpaca: %s %s: %w: %s", method, path, errBadBaseURL, RedactURL(c.base))
	}
	req.SetBasicAuth(c.keyID, c.secret)
	return req, nil
}

var errBadBaseURL = errors.New("the broker URL is not a valid URL")

// redirectError turns a 3xx answer into an error wrapping ErrRedirect, naming where it pointed
// (without userinfo).
func redirectError(method, path string, resp *http.Response) error {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil
	}
	where := ""
	if loc := resp.Header.Get("Location"); loc != "" {
		where = " to " + RedactURL(loc)
	}
	return fmt.Errorf("%w: %s %s answered HTTP %d%s; the request was not sent there: check the broker URL",
		ErrRedirect, method, path, resp.StatusCode, where)
}

// decodeAPIError reads Alpaca's {"code","message"} body, or keeps the first 500 bytes of any other.
func decodeAPIError(status int, data []byte) *APIError {
	apiErr := &APIError{HTTPStatus: status}
	if json.Unmarshal(data, apiErr) != nil || apiErr.Message == "" {
		apiErr.Message = string(bytes.TrimSpace(data))
		if len(apiErr.Message) > 500 {
			apiErr.Message = apiErr.Message[:500]
		}
	}
	return apiErr
}

// unwrapURL drops the *url.Error layer of a transport error: it repeats the whole URL, and the
// caller already names the method and path.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// IsTimeout reports whether err is a deadline or connection failure, after which the outcome of a
// POST is unknown.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
