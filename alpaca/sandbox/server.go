package sandbox

import (
	"crypto/subtle"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
)

// Options configure a Server. Zero values take the defaults given.
type Options struct {
	Seed Seed

	// Now is the base clock; nil means time.Now. The simulator adds its own offset to it (Advance,
	// POST /sandbox/v1/clock/advance), and every status change runs on that simulated clock.
	Now func() time.Time

	// KeyID and Secret are the HTTP Basic credentials every /v1, /v2 and /sandbox/v1 call must carry.
	// Both empty turns authentication off.
	KeyID, Secret string

	// StepEvery is how long a journal stays queued, then sent_to_clearing, before it moves on
	// (default 1s of simulated time).
	StepEvery time.Duration

	// RateLimit is the number of /v1 and /v2 calls allowed per minute of simulated time; 0 means
	// unlimited.
	RateLimit int

	// Faults are injected into /v1 and /v2 calls only.
	Faults Faults

	// IdempotencyTTL is how long an Idempotency-Key is remembered, in simulated time (default 24h).
	IdempotencyTTL time.Duration

	// MaxListResults is the size above which GET /v1/journals answers 422 (default 100,000, as Alpaca).
	MaxListResults int

	// HeartbeatEvery is the real-time interval of ":heartbeat" comments on event streams (default 15s).
	HeartbeatEvery time.Duration

	// PollEvery is how often an open event stream looks at the simulated clock for due status
	// changes (default 100ms real time); status changes are computed lazily, so without a poll a
	// stream would wait for the next API call.
	PollEvery time.Duration

	// MaxStreams caps concurrent event-stream connections (default 25, as Alpaca).
	MaxStreams int

	// JNLCv2 switches single POST /v1/journals JNLCs to Alpaca's JNLC v2 flow: executed in the
	// create response, activity_created one StepEvery later. Over-limit single JNLCs and every
	// batch entry keep the v1 flow, as at Alpaca. SetJNLCv2 changes it at run time.
	JNLCv2 bool
}

// Server is the simulated Broker API. It implements http.Handler and is safe for concurrent use.
type Server struct {
	opts Options

	mu       sync.Mutex
	offset   time.Duration
	accounts map[string]*Account
	cash     map[string]decimal.Decimal // firm accounts only; customers' balances are not modelled
	book     activityBook               // booked cash and the activity stream's deposits

	assets     map[string]Asset               // by symbol
	assetsByID map[string]Asset               // by assetID
	positions  map[string]map[string]*holding // by account, then symbol

	journals   chunked[journal] // in creation order
	lastTx     *transmitter     // the Travel Rule fields last booked, shared while they repeat
	ids        journalIDs
	open       bitset // queued, sent_to_clearing or pending: what EOD and BOD look at
	due        dueHeap
	dailyTotal decimal.Decimal
	// A correction's replacement and the journal it corrected, both ways.
	corrects, correctedBy map[*journal]*journal

	// Run-time settings, seeded from Options and changed through the admin API.
	journalLimit, dailyLimit decimal.Decimal // zero means none
	jnlcV2                   bool

	idem      map[string]*idemEntry
	idemOrder []*idemEntry // oldest first, for expiry without scanning the map

	events  chunked[event]
	ulids   ulidSource
	changed chan struct{} // closed and replaced when events are appended, if a stream took it (news)
	watched bool          // changed was taken
	streams int

	rate rateWindow

	faultMu   sync.Mutex
	faults    Faults
	faultRand *rand.Rand

	routes     []*route // the Alpaca API's routes, each with its count of calls
	api, admin http.Handler
}

// route is one route of the Alpaca API and the calls it was asked, counted without a lock so that
// counting costs the hot path nothing.
type route struct {
	name  string // the route's pattern, "POST /v1/journals/batch"
	calls atomic.Int64
}

// New builds a Server from o.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StepEvery <= 0 {
		o.StepEvery = time.Second
	}
	if o.IdempotencyTTL <= 0 {
		o.IdempotencyTTL = 24 * time.Hour
	}
	if o.MaxListResults <= 0 {
		o.MaxListResults = 100_000
	}
	if o.HeartbeatEvery <= 0 {
		o.HeartbeatEvery = 15 * time.Second
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 100 * time.Millisecond
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 25
	}
	s := &Server{
		opts:     o,
		accounts: make(map[string]*Account),
		cash:     make(map[string]decimal.Decimal),
		book:     activityBook{booked: make(map[string]decimal.Decimal)},
		ids:      newJournalIDs(),
		idem:     make(map[string]*idemEntry),
		changed:  make(chan struct{}),

		assets:     make(map[string]Asset),
		assetsByID: make(map[string]Asset),
		positions:  make(map[string]map[string]*holding),

		corrects:    make(map[*journal]*journal),
		correctedBy: make(map[*journal]*journal),

		journalLimit: o.Seed.JournalLimit,
		dailyLimit:   o.Seed.DailyLimit,
		jnlcV2:       o.JNLCv2,
	}
	for _, a := range o.Seed.Accounts {
		a := a
		s.accounts[a.ID] = &a
		if a.Firm {
			s.cash[a.ID] = decimal.Zero
			s.book.booked[a.ID] = decimal.Zero
		}
	}
	if sw := o.Seed.SweepAccount; sw != "" {
		if _, ok := s.accounts[sw]; !ok {
			s.accounts[sw] = &Account{ID: sw, Status: AccountActive, Firm: true}
		}
		s.cash[sw] = o.Seed.SweepCash
		s.book.booked[sw] = o.Seed.SweepCash
	}
	for _, a := range append(DefaultAssets(), o.Seed.Assets...) {
		s.assets[a.Symbol] = a
	}
	for _, a := range s.assets {
		s.assetsByID[assetID(a.Symbol)] = a
	}
	for account, held := range o.Seed.Positions {
		for sym, q := range held {
			s.holdingOf(account, sym).qty = q
		}
	}
	s.setFaults(o.Faults)
	s.api, s.admin = s.apiMux(), s.adminMux()
	return s
}

// now is the simulated clock. Callers hold s.mu.
func (s *Server) now() time.Time { return s.opts.Now().Add(s.offset) }

// Now returns the simulated time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// Advance moves the simulated clock forward by d and applies every status change that fell due.
func (s *Server) Advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
	s.tick()
}

// lockAndTick takes the lock and brings journal statuses up to the simulated now, which it returns.
func (s *Server) lockAndTick() time.Time {
	s.mu.Lock()
	return s.tick()
}

// ServeHTTP routes a request: an Alpaca API call to its route, which counts it, authenticates it,
// rate limits it and injects faults; an admin call, once authenticated, to the admin API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/v2/") || strings.HasPrefix(r.URL.Path, "/v2beta1/") {
		s.api.ServeHTTP(w, r)
		return
	}
	s.rateHeaders(w, false)
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "request is not authorized")
		return
	}
	if strings.HasPrefix(r.URL.Path, "/sandbox/v1/") {
		s.admin.ServeHTTP(w, r)
		return
	}
	writeError(w, http.StatusNotFound, codeNotFound, "route not found")
}

// serveAPI serves one call of route rt through h: counted first, so that a call refused (401,
// 429) or met by an injected fault counts as asked.
func (s *Server) serveAPI(rt *route, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.calls.Add(1)
		if !s.authorized(r) {
			s.rateHeaders(w, false)
			writeError(w, http.StatusUnauthorized, codeUnauthorized, "request is not authorized")
			return
		}
		if !s.rateHeaders(w, true) {
			writeError(w, http.StatusTooManyRequests, codeTooManyRequests, "rate limit exceeded")
			return
		}
		s.withFaults(w, r, h)
	})
}

// Calls returns the calls the Alpaca API was asked since the server started, by route ("GET
// /v1/journals/{id}"; "no route" for a path it does not serve), routes never called left out.
func (s *Server) Calls() map[string]int64 {
	out := make(map[string]int64)
	for _, rt := range s.routes {
		if n := rt.calls.Load(); n > 0 {
			out[rt.name] = n
		}
	}
	return out
}

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.KeyID == "" && s.opts.Secret == "" {
		return true
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		return false
	}
	// Constant-time so the simulator does not teach clients to leak timing on their own checks.
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.KeyID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.Secret)) == 1
	return idOK && secretOK
}

// rateWindow is a fixed one-minute window on the simulated clock.
type rateWindow struct {
	start time.Time
	used  int
}

// rateHeaders sets X-RateLimit-* and, when consume is true, counts the call. It reports false when
// the call is over the limit. An unlimited server advertises math.MaxInt32 so clients that honour
// the headers never wait.
func (s *Server) rateHeaders(w http.ResponseWriter, consume bool) bool {
	s.mu.Lock()
	now := s.now()
	start := now.Truncate(time.Minute)
	if !start.Equal(s.rate.start) {
		s.rate = rateWindow{start: start}
	}
	limit := s.opts.RateLimit
	allowed := true
	if consume {
		if limit > 0 && s.rate.used >= limit {
			allowed = false
		} else {
			s.rate.used++
		}
	}
	used := s.rate.used
	s.mu.Unlock()

	remaining := limit - used
	if limit <= 0 {
		limit, remaining = math.MaxInt32, math.MaxInt32
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(remaining, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(start.Add(time.Minute).Unix(), 10))
	return allowed
}

func (s *Server) apiMux() *http.ServeMux {
	m := http.NewServeMux()
	handle := func(pattern, name string, h http.HandlerFunc) {
		rt := &route{name: name}
		s.routes = append(s.routes, rt)
		m.Handle(pattern, s.serveAPI(rt, h))
	}
	for _, r := range []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"POST /v1/journals/batch", s.handleBatch},
		{"POST /v1/journals/reverse_batch", s.handleReverseBatch},
		{"POST /v1/journals", s.handleCreate},
		{"GET /v1/journals", s.handleList},
		{"GET /v1/journals/{id}", s.handleGet},
		{"DELETE /v1/journals/{id}", s.handleDelete},
		{"GET /v1/accounts/{account_id}", s.handleGetAccount},
		{"GET /v1/trading/accounts/{account_id}/account", s.handleGetTradingAccount},
		{"GET /v1/assets/{symbol_or_asset_id}", s.handleGetAsset},
		{"GET /v2/events/journals/status", s.handleEventsV2},
		{"GET /v1/events/journals/status", s.handleEventsV1},
		{"GET /v2beta1/events/activities", s.handleActivities},
	} {
		handle(r.pattern, r.pattern, r.h)
	}
	handle("/", "no route", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "route not found")
	})
	return m
}

// Error codes: Alpaca's observed codes are the HTTP status followed by five digits.
const (
	codeMalformed    = 40010000
	codeUnauthorized = 40110000
	codeForbidden    = 40310000
	codeNotFound     = 40410000
	// Alpaca's generic 422, the only 422 code it shows: an Idempotency-Key reused with another body,
	// a batch canceled for an account that is not ACTIVE, a list over its result limit and a DELETE
	// of a journal that is not pending all answer it; only the message tells them apart.
	codeUnprocessable   = 42210000
	codeTooManyRequests = 42910000
	codeInternal        = 50010000
)

type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func errorJSON(code int, msg string) []byte {
	b, _ := json.Marshal(errorBody{Code: code, Message: msg})
	return b
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeRaw(w, status, errorJSON(code, msg))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, "encode response: "+err.Error())
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
