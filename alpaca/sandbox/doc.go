// Package sandbox is a simulator of Alpaca's Broker API journal endpoints: the stand-in for Alpaca
// in every test and in the demo, and the server behind `cashpool sandbox`. Clients reach it only
// over HTTP, exactly as they reach Alpaca; it imports nothing of the pipeline.
//
// # What it simulates
//
//   - POST /v1/journals/batch, POST /v1/journals (JNLC and JNLS), POST /v1/journals/reverse_batch,
//     GET /v1/assets/{symbol_or_asset_id},
//     GET /v1/journals, GET /v1/journals/{id}, DELETE /v1/journals/{id},
//     GET /v2/events/journals/status and the legacy GET /v1/events/journals/status.
//   - GET /v1/accounts/{account_id}: the account's id, account_number, status (as seeded or set
//     through the admin API: ACTIVE, INACTIVE, ACCOUNT_CLOSED, ...), crypto_status (always
//     INACTIVE), currency and last_equity (the cash of a firm account); 404 for an unknown account,
//     400 for an id that is not a UUID.
//   - GET /v1/trading/accounts/{account_id}/account: id, account_number, status, currency and the
//     cash: cash is the firm account's booked cash (moved when a JNLC executes, moved back when an
//     executed one is canceled, rejected, deleted or corrected); cash_withdrawable and
//     cash_transferable are its available cash, less the journals not executed yet ("0" for a
//     customer account); 404 and 400 as above.
//   - GET /v2beta1/events/activities: the activity stream (since/until or since_id/until_id, as
//     the v2 journal stream). Each booking of a journal is an activity on both of its accounts,
//     signed from each side; taken back, the same ref_id comes again as canceled or correct; cash
//     set through the admin API is a CSD or CSW activity. Every account and type is sent (no filter
//     is documented) and the events of one read come in any order. See activities.go.
//   - HTTP Basic authentication on every /v1, /v2, /v2beta1 and /sandbox/v1 call (401, code 40110000).
//   - X-RateLimit-Limit, -Remaining and -Reset (unix seconds) on every answer, a fixed one-minute
//     window on the simulated clock, 429 past Options.RateLimit. Only /v1 and /v2 calls count.
//     An unlimited server advertises a limit of 2147483647.
//   - Decimals travel as strings: amounts with two places ("25.50"), JNLS qty without trailing
//     zeros ("0.5"), prices with at least two places ("128.23"). Errors are {"code":int,"message":string}.
//     A request's amount or qty may also be a JSON number (Alpaca documents "string/numeric";
//     alpaca-py sends floats): its exact text is checked like a string's, 25.5 is "25.5".
//
// # Batch semantics
//
// The whole batch is refused, and nothing is created, when:
//
//	400 40010000  malformed body, entry_type not JNLC, no entries, a bad amount (anything but a
//	              positive plain decimal with at most 2 places: 1e3, +1.5, .5, 1.005 are refused)
//	404 40410000  from_account or a to_account is unknown ("entries[i]: account <id> not found")
//	403 40310000  from_account is not a firm account, or a to_account is one (only firm -> customer)
//	422 42210000  from_account or a to_account is not ACTIVE ("entries[i]: account <id> is not ACTIVE
//	              (INACTIVE)"): Alpaca's generic 422, the code of an idempotency conflict too
//
// Otherwise the answer is 200 with one journal per entry, shaped as the newest
// BatchJournalResponseJNLC (error_message omitted on success). Alpaca does not promise the answer
// keeps the request's order, so the simulator answers in reverse request order (the harshest
// order that stays deterministic); replays return the same bytes. Entries are booked in request
// order:
//
//   - if the firm account's cash does not cover the amount: refused, with error_message
//     "insufficient balance, available: X, required: Y"; it gets an id and moves no money;
//   - above the per-journal limit, or pushing the day's total above the daily limit: pending
//     (zero limits mean none); BeginningOfDay executes them, as Alpaca's BOD job does. The limits
//     start as Seed.JournalLimit and Seed.DailyLimit and change with SetLimits or
//     POST /sandbox/v1/limits, for journals created afterwards (pending ones stay pending and the
//     day's running total is kept);
//   - a description with /fixtures/status=rejected/fixtures/ or /fixtures/status=pending/fixtures/
//     stays queued until EndOfDay, which rejects the first and leaves the second pending forever;
//   - otherwise queued, then sent_to_clearing and executed, one step per Options.StepEvery of
//     simulated time.
//
// Accepted journals debit the firm account's available cash when created and credit it back when
// rejected, canceled or corrected; its booked cash moves only when they execute. Customer balances are not modelled. A single JNLC on POST /v1/journals
// follows the same rules, except that a shortfall is 403 40310000 and creates nothing; symbol or
// qty on a JNLC is 400 40010000. Batches are JNLC only (entry_type JNLS is 400).
//
// # JNLC v2
//
// With Options.JNLCv2 (or SetJNLCv2, or POST /sandbox/v1/jnlc_version {"version":2}) a single
// JNLC under the limits answers executed at once (settle and system dates set) and moves to
// activity_created one StepEvery later; both changes are events. Over-limit single JNLCs (pending,
// then executed at BOD or approval, never activity_created), every batch entry and fixture journals
// keep the v1 flow, as Alpaca keeps batches and over-limit JNLCs on v1. The switch applies to
// journals created after it.
//
// # Securities journals (JNLS)
//
// POST /v1/journals with entry_type JNLS takes symbol and qty and no amount:
//
//	400 40010000  amount on a JNLS; symbol or qty missing; a symbol that is not an upper-case
//	              equity ticker (A-Z, 0-9, "."; crypto pairs such as BTC/USD are refused, as Alpaca
//	              does not journal crypto); a qty that is not a positive plain decimal with at most
//	              9 places; a currency other than USD; transmitter_* fields (JNLC only in the schema)
//	404 40410000  from_account or to_account unknown
//	403 40310000  anything but an ACTIVE firm account to an ACTIVE customer account ("JNLS can ONLY
//	              be done from the SWEEP ACCOUNT to the USER ACCOUNT"): customer senders, firm
//	              receivers, and non-ACTIVE accounts on either side
//
// Then, in this order:
//
//	422 42210000  the symbol is not an asset the simulator knows ("asset not found for XYZ"), the
//	              asset is not active or not tradable, or qty has a fraction and the asset is not
//	              fractionable
//	403 40310000  the firm account has fewer shares available than qty ("insufficient assets for
//	              AAPL, available: 10, required: 12"); nothing is created
//
// Documented: the 403 for a shortfall ("Insufficient Assets (JNLS)", newer "The amount requested
// to move is not available."), the asset flags tradable, status and fractionable. Modelled: the
// answer to an unknown, untradable, inactive or non-fractionable asset, which Alpaca does not
// document for journals; the simulator gives its generic 422 (the code of an idempotency conflict
// too, so only the message tells them apart), and the message texts.
//
// Assets are DefaultAssets (AAPL, AMZN, BRK.A, BRK.B, GOOGL, META, MSFT, NVDA, QQQ, SPY, TSLA,
// VTI: active, tradable, fractionable but BRK.A) plus Seed.Assets, which add symbols or replace
// defaults. GET /v1/assets/{symbol_or_asset_id} answers Alpaca's Asset object with the fields
// modelled (id, class us_equity, exchange, symbol, name, status, tradable, fractionable; the id
// is a UUID derived from the symbol), or 404 40410000 "asset not found for X".
//
// Positions: each account holds a quantity per symbol (Seed.Positions for firm accounts at the
// start; none otherwise). A JNLS commits its qty from the firm account's available shares when it
// is created; shares committed to queued, sent_to_clearing or pending JNLS are not available to
// another. When it executes the shares move from the firm account to the customer; rejected,
// canceled or deleted before that, they are available again; reversed after it (canceled), they
// move back. Positions(account) and GET /sandbox/v1/positions?account=ID (default the sweep
// account) show each symbol's qty (booked) and qty_available.
//
// The answer is the newest JNLS shape: symbol, qty, price (decimal strings) and net_amount null.
// The price is Seed.Prices[symbol], or 100.00 for a symbol not listed. A JNLS
// follows the v1 flow (queued, sent_to_clearing, executed on the clock; fixtures as for JNLC,
// whatever Options.JNLCv2 says) and Idempotency-Key works as for JNLC. No cash moves, and neither
// the JNLC limits nor Alpaca's USD-based JNLS limit apply. Its status changes are events on the
// v2 and v1 streams like a JNLC's. The admin API can approve, reject and reverse a JNLS but not
// correct it (422: it has no amount). The ledger records symbol, qty and price.
//
// reverse_batch (customers -> a firm account; a closed customer account may send) never refuses and
// credits the firm account on execution; Alpaca documents no Idempotency-Key there, so none is kept.
//
// # Idempotency
//
// An Idempotency-Key (at most 128 characters) on POST /v1/journals and /v1/journals/batch is kept
// for Options.IdempotencyTTL of simulated time (default 24h). The same key with the byte-identical
// body on the same endpoint gets the first answer again, status and bytes, and creates nothing; with
// any other body or endpoint it gets 422 {"code":42210000,"message":"idempotency key reused with a
// different request body"}. Only answers that created journals are kept: a batch refused whole
// changed nothing, so its key may be used again for the corrected batch.
//
// # Listing
//
// GET /v1/journals filters by after and before (UTC creation dates YYYY-MM-DD, both inclusive:
// after=D&before=D is the day D), status, entry_type, to_account, from_account; results come oldest
// first and limit keeps the first ones. A bad date, entry_type, limit or a status that is not a
// journal status (case counts) is 400 40010000. When more than Options.MaxListResults journals (default
// 100,000) match the filters, limit notwithstanding, the answer is 422 42210000 "Result set exceeds
// 100,000 records.". Unknown journal ids are 404 40410000; DELETE of a journal that is not pending
// is 422 42210000.
//
// # Memory
//
// A journal takes about 370 bytes with its events, so a night of a million fits in about 370 MB
// (BenchmarkNightMemory, with cashpool's descriptions and Travel Rule fields): records are
// compact (statuses, dates and kinds as small numbers, the journals of one receipt sharing one
// copy of its Travel Rule fields), a journal id is a keyed permutation of the journal's position
// (random-looking version-4 UUIDs, different in every simulator) so no index from id to journal
// is kept, the admin ledger and event log are written an entry at a time, an idempotent replay is shaped again from the journals it
// created rather than kept as bytes, list answers are written one journal at a time after the
// lock is released, and streams take recorded events a slice at a time.
//
// # Clock and days
//
// Time is Options.Now plus an offset that Advance (or POST /sandbox/v1/clock/advance) moves forward.
// Status changes are applied lazily, on the next call, from a heap of due changes, so a call costs
// nothing per idle journal; events are stamped with the moment they fell due. Days do not follow
// the clock: EndOfDay and BeginningOfDay are explicit, as in tests an operator runs the jobs.
// EndOfDay resolves fixtures, executes every other queued or sent_to_clearing journal and resets
// the daily total. Settle and system dates are the UTC date of execution.
//
// # Event streams
//
// Every status change is an Event with a strictly increasing ULID. GET /v2/events/journals/status
// sends JournalStatusEventV2 objects as "data: {json}" lines; since_id/until_id (ULIDs, since
// exclusive, until inclusive) or since/until (RFC 3339 or a date; an until date means the end of
// that day) pick the range, id filters one journal, and without since or since_id only new events
// come. ":heartbeat" comments come every Options.HeartbeatEvery; the stream ends when the until
// bound is passed. The legacy v1 stream takes since_id/until_id as integers (event_id) or
// since_ulid/until_ulid. At most Options.MaxStreams streams are open at once (429 beyond).
//
// # Admin API (same Basic auth, never rate limited, never faulted)
//
//	GET  /sandbox/v1/accounts                  all accounts, with cash for firm accounts
//	POST /sandbox/v1/accounts                  {"id","status","firm"?}: add or update an account
//	GET  /sandbox/v1/cash?account=ID           a firm account's cash (default: the sweep account)
//	POST /sandbox/v1/cash                      {"account"?,"amount":"1000.00"}: set it
//	GET  /sandbox/v1/positions?account=ID      [{"symbol","qty","qty_available"}] by symbol (default:
//	                                           the sweep account)
//	GET  /sandbox/v1/clock                     {"now": RFC 3339}
//	POST /sandbox/v1/clock/advance             {"duration":"90s"}
//	POST /sandbox/v1/eod, /sandbox/v1/bod      run end or beginning of day (204)
//	POST /sandbox/v1/journals/{id}/approve     pending -> executed
//	POST /sandbox/v1/journals/{id}/reject      pending, queued or sent_to_clearing -> rejected
//	POST /sandbox/v1/journals/{id}/correct     {"amount"}: executed -> correct, plus a new executed
//	                                           journal with that amount (ledger corrects/corrected_by)
//	POST /sandbox/v1/journals/{id}/reverse     executed -> canceled, cash returned (Alpaca books a
//	                                           mirror journal; the original's status is what a client sees)
//	GET  /sandbox/v1/ledger                    Ledger() as JSON
//	GET  /sandbox/v1/events                    Events() as JSON
//	GET  /sandbox/v1/calls                     Calls(): the Alpaca API calls asked so far, by route
//	                                           pattern ({"POST /v1/journals/batch":3,...})
//	GET  /sandbox/v1/faults, POST              the Faults as JSON ({"seed":1,"latency":"50ms",
//	                                           "error_rate":0.1,"lose_response_rate":0.1,...})
//	GET  /sandbox/v1/limits, POST              {"journal_limit":"10000.00","daily_limit":"1000000.00"}
//	                                           (SetLimits, Limits); a POST may carry either or both,
//	                                           "0" means none, any invalid value is 400 and changes
//	                                           nothing
//	GET  /sandbox/v1/jnlc_version, POST        {"version":1} or {"version":2} (SetJNLCv2, JNLCv2)
//
// # Faults
//
// Faults apply to /v1 and /v2 calls and draw from math/rand/v2 seeded with Faults.Seed, so a
// sequence of calls meets the same faults every run: latency plus jitter, a connection reset or a
// 500 before anything is processed, and a lost answer after the request was processed and stored
// under its Idempotency-Key (the connection closes without a response, or a 502). Event streams
// can drop, duplicate or reorder events, and play Alpaca's slow-reader cut-off: with probability
// Faults.StreamSlowReaderRate ("stream_slow_reader_rate") per event about to be sent, the stream
// skips it and the following ones, N in all (drawn 1..5, capped at the events it had to send),
// sends the comment ": you are reading too slowly, dropped N messages" instead and closes the
// connection. The skipped events stay in the log, so a client resuming from the last event id it
// received gets them. Stream faults draw from a generator seeded with Faults.Seed and the log
// length at connection time; the slow-reader draw happens only when its rate is non-zero, so
// enabling it leaves the other stream faults' sequence unchanged. With Faults.StreamBareRate
// ("stream_bare_rate"), drawn the same way, a v2 event goes without the fields Alpaca's schema
// marks optional (description, idempotency_key, idempotency_key_type, batch_error_message).
//
// # Seed file
//
// LoadSeed reads JSON of this form; amounts are strings, unknown fields are errors, prices (JNLS
// only, optional) are positive decimals with at most 9 places, positions (optional) are a firm
// account's shares per symbol (non-negative, at most 9 places), assets (optional) add to or
// replace the default assets by symbol (status active or inactive; tradable and fractionable are
// false unless given), and the sweep account is added as an ACTIVE firm account if the list lacks
// it:
//
//	{
//	  "sweep_account": "8f8c8cee-2591-4f83-be12-82c659b5e748",
//	  "sweep_cash": "1000000.00",
//	  "journal_limit": "10000.00",
//	  "daily_limit": "1000000.00",
//	  "prices": {"AAPL": "128.23"},
//	  "positions": {"8f8c8cee-2591-4f83-be12-82c659b5e748": {"AAPL": "10", "MSFT": "5"}},
//	  "assets": [{"symbol": "OLDCO", "status": "inactive", "tradable": false}],
//	  "accounts": [
//	    {"id": "8f8c8cee-2591-4f83-be12-82c659b5e748", "status": "ACTIVE", "firm": true},
//	    {"id": "c0000000-0000-4000-8000-000000000001", "status": "ACTIVE", "firm": false}
//	  ]
//	}
//
// The sample night's seed (fixtures/accounts.json) gives the sweep account 10 AAPL, 5 MSFT, 0 TSLA
// (an active, tradable asset) and 3 OLDCO, an asset of its own that is inactive and not tradable:
// rewards of up to 10 AAPL and 5 MSFT in all are delivered, any TSLA reward is refused for lack of
// shares (403) and any OLDCO reward as not tradable (422).
package sandbox
