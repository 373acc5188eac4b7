// Package console is the operator console `cashpool serve` shows at /: server-rendered pages
// (html/template, no JavaScript) of the nights, one night's headline and grouped exceptions, its
// batches and journals with their history, rejected files, the next scheduled run and the
// leader; and a redrive with maker–checker.
//
// The console is read-only unless a token is configured. With one, a person is the identity an
// authenticating proxy puts in the user header, believed only on a request that also carries the
// token in TokenHeader (which the proxy adds and a browser cannot know): a header alone, even from
// loopback, may come from any local process. A redrive is filed by one person and approved by
// another (the database refuses a self-approval too); approval runs redrive.Apply, the CLI's own.
// Every POST needs a same-origin browser request (http.CrossOriginProtection) and a form field
// derived from the token and the person, so another site cannot post through a logged-in proxy.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch/redrive"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
	"github.com/cashpool/cashpool/reconcile"
)

// TokenHeader carries the console token on every request the authenticating proxy forwards.
const TokenHeader = "X-Cashpool-Console-Token"

// Limits on what a person types or a proxy sends.
const (
	maxUser   = 200
	maxReason = 1000
)

// Config is what the console reads and how it knows people.
type Config struct {
	DB           *sqlx.DB
	SweepAccount string
	BatchSize    int           // for redrive previews, as `cashpool redrive` uses it
	WatchFor     time.Duration // the report's watch window, so the console and the report agree
	TZ           *time.Location
	// Token enables redrive; empty: read-only.
	Token string
	// UserHeader names the header the authenticating proxy puts the person's identity in.
	UserHeader string
	Now        func() time.Time
	// NextRun is when the schedule fires next; Leader whether this replica runs the nights.
	NextRun func() time.Time
	Leader  func() bool
	// CurrentLeader names the replica that runs the nights, whichever it is, and since when; ""
	// when none does.
	CurrentLeader func(ctx context.Context) (holder string, since time.Time, err error)
	// Rerun sends, tracks and reconciles a date again after an approved redrive, as `cashpool
	// redrive --yes` does; it must not block the request.
	Rerun  func(date string)
	Logger *slog.Logger
}

// Handler serves the console.
type Handler struct {
	cfg  Config
	mux  *http.ServeMux
	cop  *http.CrossOriginProtection
	host string
}

// New returns the console's handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TZ == nil {
		cfg.TZ = time.UTC
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), cop: http.NewCrossOriginProtection()}
	h.host, _ = os.Hostname()
	h.mux.HandleFunc("GET /{$}", h.nights)
	h.mux.HandleFunc("GET /nights/{date}", h.night)
	h.mux.HandleFunc("GET /nights/{date}/batches/{id}", h.batch)
	h.mux.HandleFunc("GET /files", h.files)
	h.mux.HandleFunc("POST /nights/{date}/redrive", h.fileRedrive)
	h.mux.HandleFunc("POST /redrive/{id}/approve", h.approve)
	return h
}

// ServeHTTP serves the console's pages with headers that keep them out of frames, caches and
// other origins' reach; POSTs from another origin are refused before any handler runs.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	h.cop.Handler(h.mux).ServeHTTP(w, r)
}

// writable says whether the console may change anything.
func (h *Handler) writable() bool { return h.cfg.Token != "" && h.cfg.UserHeader != "" }

// person is who the request comes from: the proxy's user header, believed only with the token
// beside it; "" when unknown. Names are compared lower-cased, so "Alice" cannot approve alice's.
func (h *Handler) person(r *http.Request) string {
	if !h.writable() {
		return ""
	}
	tok := r.Header.Get(TokenHeader)
	if subtle.ConstantTimeCompare([]byte(tok), []byte(h.cfg.Token)) != 1 {
		return ""
	}
	u := strings.ToLower(strings.TrimSpace(r.Header.Get(h.cfg.UserHeader)))
	if pool.CheckText(u, maxUser, true) != nil {
		return ""
	}
	return u
}

// csrf is the form field a POST of person must carry: derived from the token, so a page can hold
// it without holding the token.
func (h *Handler) csrf(person string) string {
	m := hmac.New(sha256.New, []byte(h.cfg.Token))
	m.Write([]byte("cashpool console form\x00" + person))
	return hex.EncodeToString(m.Sum(nil))
}

// poster is the person of a POST that may change something, or an answer already written.
func (h *Handler) poster(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !h.writable() {
		h.fail(w, http.StatusForbidden, "The console is read-only: no console token is configured.")
		return "", false
	}
	p := h.person(r)
	if p == "" {
		h.fail(w, http.StatusForbidden, "Who you are is not known: the request did not come through the authenticating proxy with the console token.")
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(h.csrf(p))) != 1 {
		h.fail(w, http.StatusForbidden, "This form is not yours or is out of date: reload the page and try again.")
		return "", false
	}
	return p, true
}

func (h *Handler) fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := pages.ExecuteTemplate(w, "error", struct {
		Title, Message string
	}{http.StatusText(code), msg}); err != nil {
		h.cfg.Logger.Error("console: render error page", "err", err)
	}
}

func (h *Handler) internal(w http.ResponseWriter, what string, err error) {
	h.cfg.Logger.Error("console: "+what, "err", err)
	h.fail(w, http.StatusInternalServerError, "The console could not read "+what+"; the server log says why.")
}

func (h *Handler) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		h.cfg.Logger.Error("console: render "+name, "err", err)
	}
}

// page is what every page's frame shows.
type page struct {
	Title    string
	Person   string
	Writable bool
	Host     string
	Leader   bool
	NextRun  time.Time
	// LeaderName and LeaderSince: the replica that runs the nights; LeaderKnown false when it
	// could not be read.
	LeaderName  string
	LeaderSince time.Time
	LeaderKnown bool
	CSS         any
}

func (h *Handler) frame(r *http.Request, title string) page {
	p := page{Title: title, Person: h.person(r), Writable: h.writable(), Host: h.host, CSS: severityCSS}
	if h.cfg.Leader != nil {
		p.Leader = h.cfg.Leader()
	}
	if h.cfg.NextRun != nil {
		p.NextRun = h.cfg.NextRun().In(h.cfg.TZ)
	}
	if h.cfg.CurrentLeader != nil {
		name, since, err := h.cfg.CurrentLeader(r.Context())
		if err != nil {
			h.cfg.Logger.Error("console: the leader", "err", err)
		} else {
			p.LeaderName, p.LeaderSince, p.LeaderKnown = name, since.In(h.cfg.TZ), true
		}
	}
	return p
}

func (h *Handler) nights(w http.ResponseWriter, r *http.Request) {
	ns, err := listNights(r.Context(), h.cfg.DB, h.cfg.SweepAccount)
	if err != nil {
		h.internal(w, "the nights", err)
		return
	}
	h.render(w, "nights", struct {
		page
		Nights []night
	}{h.frame(r, "Nights"), ns})
}

// validDate reads a YYYY-MM-DD path value.
func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// runOf is the run of date, or false once it has answered the request (no such night, or the
// database failed).
func (h *Handler) runOf(w http.ResponseWriter, r *http.Request, date string) (int64, bool) {
	runID, err := store.RunOf(r.Context(), h.cfg.DB, date, h.cfg.SweepAccount)
	if errors.Is(err, sql.ErrNoRows) {
		h.fail(w, http.StatusNotFound, "No night for "+date+".")
		return 0, false
	}
	if err != nil {
		h.internal(w, "the night", err)
		return 0, false
	}
	return runID, true
}

func (h *Handler) night(w http.ResponseWriter, r *http.Request) {
	date := r.PathValue("date")
	if !validDate(date) {
		h.fail(w, http.StatusNotFound, "Not a date.")
		return
	}
	ctx := r.Context()
	runID, ok := h.runOf(w, r, date)
	if !ok {
		return
	}
	rep, err := reconcile.Build(ctx, h.cfg.DB, runID, h.cfg.Now(), reconcile.WatchFor(h.cfg.WatchFor))
	if err != nil {
		h.internal(w, "the night's report", err)
		return
	}
	bs, err := batchesOf(ctx, h.cfg.DB, runID)
	if err != nil {
		h.internal(w, "the batches", err)
		return
	}
	reqs, err := requestsOf(ctx, h.cfg.DB, h.cfg.SweepAccount, date)
	if err != nil {
		h.internal(w, "the redrive requests", err)
		return
	}
	plan, err := redrive.Preview(ctx, h.cfg.DB, h.redriveConfig(date, "", ""))
	if err != nil {
		h.internal(w, "the redrive preview", err)
		return
	}
	var preview strings.Builder
	plan.Write(&preview)
	fr := h.frame(r, "Night of "+date)
	h.render(w, "night", struct {
		page
		Date     string
		Report   *reconcile.Report
		Summary  reconcile.Summary
		Batches  []batchRow
		Requests []request
		Preview  string
		Redrive  int
		Open     bool
		CSRF     string
	}{fr, date, rep, reconcile.Summarize(rep), bs, reqs, preview.String(), plan.Redrive, hasOpen(reqs), h.csrfFor(fr.Person)})
}

func (h *Handler) csrfFor(person string) string {
	if person == "" {
		return ""
	}
	return h.csrf(person)
}

func hasOpen(rs []request) bool {
	for _, r := range rs {
		if r.State == stateRequested {
			return true
		}
	}
	return false
}

func (h *Handler) batch(w http.ResponseWriter, r *http.Request) {
	date := r.PathValue("date")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if !validDate(date) || err != nil {
		h.fail(w, http.StatusNotFound, "No such batch.")
		return
	}
	ctx := r.Context()
	runID, ok := h.runOf(w, r, date)
	if !ok {
		return
	}
	js, err := journalsOf(ctx, h.cfg.DB, runID, id)
	if err != nil {
		h.internal(w, "the journals", err)
		return
	}
	h.render(w, "batch", struct {
		page
		Date     string
		BatchID  int64
		Journals []journalRow
	}{h.frame(r, fmt.Sprintf("Batch %d of %s", id, date)), date, id, js})
}

func (h *Handler) files(w http.ResponseWriter, r *http.Request) {
	fs, err := rejectedFiles(r.Context(), h.cfg.DB)
	if err != nil {
		h.internal(w, "the rejected files", err)
		return
	}
	h.render(w, "files", struct {
		page
		Files []fileRow
	}{h.frame(r, "Rejected files"), fs})
}

func (h *Handler) redriveConfig(date, by, reason string) redrive.Config {
	return redrive.Config{SweepAccount: h.cfg.SweepAccount, BusinessDate: date, BatchSize: h.cfg.BatchSize,
		Now: h.cfg.Now, By: by, Reason: reason}
}

// fileRedrive records a redrive request (the maker's half) with the preview the requester saw.
func (h *Handler) fileRedrive(w http.ResponseWriter, r *http.Request) {
	who, ok := h.poster(w, r)
	if !ok {
		return
	}
	date := r.PathValue("date")
	if !validDate(date) {
		h.fail(w, http.StatusNotFound, "Not a date.")
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if err := pool.CheckText(reason, maxReason, true); err != nil {
		h.fail(w, http.StatusBadRequest, fmt.Sprintf("The reason %v (at most %d characters): say what was fixed.", err, maxReason))
		return
	}
	ctx := r.Context()
	plan, err := redrive.Preview(ctx, h.cfg.DB, h.redriveConfig(date, "", ""))
	if errors.Is(err, redrive.ErrNoRun) {
		h.fail(w, http.StatusNotFound, "No night for "+date+".")
		return
	}
	if err != nil {
		h.internal(w, "the redrive preview", err)
		return
	}
	if plan.Redrive == 0 {
		h.fail(w, http.StatusConflict, "Nothing of this night can be redriven.")
		return
	}
	var preview strings.Builder
	plan.Write(&preview)
	id, err := fileRequest(ctx, h.cfg.DB, h.cfg.SweepAccount, date, who, reason, preview.String(), h.cfg.Now())
	if errors.Is(err, errOpenRequest) {
		h.fail(w, http.StatusConflict, "A redrive of this night is already waiting for a second person's approval.")
		return
	}
	if err != nil {
		h.internal(w, "the request", err)
		return
	}
	h.cfg.Logger.Info("console: redrive requested", "request", id, "date", date, "requester", who, "journals", plan.Redrive)
	http.Redirect(w, r, "/nights/"+date, http.StatusSeeOther)
}

// approve is the checker's half: another person approves, and the CLI's redrive runs.
func (h *Handler) approve(w http.ResponseWriter, r *http.Request) {
	who, ok := h.poster(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, http.StatusNotFound, "No such request.")
		return
	}
	ctx := r.Context()
	req, err := requestByID(ctx, h.cfg.DB, h.cfg.SweepAccount, id)
	if err != nil {
		h.fail(w, http.StatusNotFound, "No such request.")
		return
	}
	if req.Requester == who {
		h.fail(w, http.StatusForbidden, "You filed this redrive request: a second person must approve it.")
		return
	}
	claimed, err := claimApproval(ctx, h.cfg.DB, id, who, h.cfg.Now())
	if err != nil {
		h.internal(w, "the request", err)
		return
	}
	if !claimed {
		h.fail(w, http.StatusConflict, "This request is no longer waiting for approval.")
		return
	}
	by := req.Requester + ", approved by " + who
	plan, err := redrive.Apply(ctx, h.cfg.DB, h.redriveConfig(req.Date, by, req.Reason))
	if err != nil {
		// Nothing was redriven: the request waits again rather than claiming an approval that did nothing.
		if uerr := unclaimApproval(context.WithoutCancel(ctx), h.cfg.DB, id); uerr != nil {
			h.cfg.Logger.Error("console: reopen request", "request", id, "err", uerr)
		}
		h.cfg.Logger.Error("console: redrive", "request", id, "date", req.Date, "err", err)
		h.fail(w, http.StatusConflict, "The redrive did not go through (is a run of this night in progress?); the request waits for approval again. The server log says why.")
		return
	}
	h.cfg.Logger.Info("console: redrive approved", "request", id, "date", req.Date, "requester", req.Requester,
		"approver", who, "journals", plan.Redrive, "amount", plan.Amount.StringFixed(2))
	if plan.Redrive > 0 && h.cfg.Rerun != nil {
		h.cfg.Rerun(req.Date)
	}
	http.Redirect(w, r, "/nights/"+req.Date, http.StatusSeeOther)
}
