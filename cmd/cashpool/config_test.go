package main

import (
	"flag"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// parseConfig reads environ and args the way every pipeline command does.
func parseConfig(t *testing.T, environ map[string]string, args ...string) (*config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c, finish, err := loadConfig(fs, environ)
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return c, finish()
}

// TestConfigFromEnvironment: environment and flags in, settings or the exact usage error out. The
// defaults are written here by hand, as README's configuration table states them.
func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	const sweep = "8f8c8cee-2591-4f83-be12-82c659b5e748"
	defaults := config{
		DropDir: "drop", ReceiptsPat: "receipts*.csv", AllocPat: "allocations*.csv", OutDir: "out",
		BAI2Pat: "*.bai*", CAMTPat: "camt05[34]*.xml", RewardsPat: "rewards*.csv",
		TZName: "America/New_York", BatchSize: 500, MaxInFlight: 4, KeyRetention: 24 * time.Hour, ClaimLease: time.Minute, TrackLease: 15 * time.Second,
		TrackFor: 6 * time.Hour, PollEvery: 30 * time.Second, SettleFor: 10 * time.Second,
		AwaitFor: 72 * time.Hour, WatchDays: 5, WatchFor: 5 * 24 * time.Hour, Formats: []string{"csv"},
		Schedule: "30 1 * * *", HTTPAddr: "127.0.0.1:8080", ScanEvery: time.Minute, Date: "2026-11-20",
		LogFormat: "text", LogLevel: "info", ConsoleUserHeader: "X-Forwarded-User",
	}
	with := func(f func(*config)) config {
		c := defaults
		c.Formats = slices.Clone(defaults.Formats)
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		want    config
		limit   string // CASHPOOL_JOURNAL_LIMIT as read, two places
		wantErr string
	}{
		{name: "nothing set", want: defaults, limit: "0.00"},
		{name: "empty values take the defaults", env: map[string]string{"CASHPOOL_BATCH_SIZE": "", "CASHPOOL_TZ": "",
			"CASHPOOL_REPORT_FORMATS": "", "CASHPOOL_WATCH_DAYS": ""}, want: defaults, limit: "0.00"},
		{name: "everything set", env: map[string]string{
			"DATABASE_URL": "postgres://db/cashpool", "APCA_BROKER_URL": "https://broker-api.sandbox.alpaca.markets/",
			"APCA_API_KEY_ID": "key", "APCA_API_SECRET_KEY": "secret",
			"CASHPOOL_SWEEP_ACCOUNT": strings.ToUpper(sweep), "CASHPOOL_DROP_DIR": "/srv/drop",
			"CASHPOOL_RECEIPTS_PATTERN": "wires*.csv", "CASHPOOL_ALLOCATIONS_PATTERN": "alloc*.csv",
			"CASHPOOL_REWARDS_PATTERN": "gifts*.csv",
			"CASHPOOL_OUT_DIR":         "/srv/out", "CASHPOOL_TZ": "UTC", "CASHPOOL_BATCH_SIZE": "250",
			"CASHPOOL_JOURNAL_LIMIT": "10000.00", "CASHPOOL_MAX_IN_FLIGHT": "8", "CASHPOOL_KEY_RETENTION": "12h",
			"CASHPOOL_TRACK_LEASE": "40s",
			"CASHPOOL_TRACK_FOR":   "2h", "CASHPOOL_POLL_EVERY": "5s", "CASHPOOL_SETTLE_FOR": "0s",
			"CASHPOOL_AWAIT_RECEIPT_FOR": "24h", "CASHPOOL_WATCH_DAYS": "3", "CASHPOOL_REPORT_FORMATS": "csv, json,html",
			"CASHPOOL_SCHEDULE": "0 2 * * 1-5", "CASHPOOL_HTTP_ADDR": ":9090", "CASHPOOL_SCAN_EVERY": "30s",
			"CASHPOOL_RUN_ON_HOLIDAYS": "true",
		}, want: with(func(c *config) {
			c.DatabaseURL, c.BrokerURL, c.KeyID, c.Secret = "postgres://db/cashpool", "https://broker-api.sandbox.alpaca.markets", "key", "secret"
			c.SweepAccount, c.DropDir, c.ReceiptsPat, c.AllocPat, c.OutDir = sweep, "/srv/drop", "wires*.csv", "alloc*.csv", "/srv/out"
			c.RewardsPat = "gifts*.csv"
			c.TZName, c.BatchSize, c.MaxInFlight, c.KeyRetention = "UTC", 250, 8, 12*time.Hour
			c.TrackLease = 40 * time.Second
			c.TrackFor, c.PollEvery, c.SettleFor, c.AwaitFor = 2*time.Hour, 5*time.Second, 0, 24*time.Hour
			c.WatchDays, c.WatchFor, c.Formats = 3, 3*24*time.Hour, []string{"csv", "json", "html"}
			c.Schedule, c.HTTPAddr, c.ScanEvery, c.RunHolidays = "0 2 * * 1-5", ":9090", 30*time.Second, true
		}), limit: "10000.00"},
		{name: "flags override the environment", env: map[string]string{"CASHPOOL_DROP_DIR": "/env/drop",
			"CASHPOOL_OUT_DIR": "/env/out", "CASHPOOL_SWEEP_ACCOUNT": "env", "CASHPOOL_REPORT_FORMATS": "html",
			"CASHPOOL_BATCH_SIZE": "250"},
			args: []string{"--drop", "/f/drop", "--out", "/f/out", "--sweep", sweep, "--format", "json", "--batch-size", "7"},
			want: with(func(c *config) {
				c.DropDir, c.OutDir, c.SweepAccount, c.Formats, c.BatchSize = "/f/drop", "/f/out", sweep, []string{"json"}, 7
			}), limit: "0.00"},
		{name: "a bad variable its flag overrides does not matter", env: map[string]string{"CASHPOOL_BATCH_SIZE": "many"},
			args: []string{"--batch-size", "9"}, want: with(func(c *config) { c.BatchSize = 9 }), limit: "0.00"},

		{name: "batch size not a number", env: map[string]string{"CASHPOOL_BATCH_SIZE": "many"},
			wantErr: `CASHPOOL_BATCH_SIZE "many": want a positive whole number`},
		{name: "rewards account read in lower case", env: map[string]string{"CASHPOOL_REWARDS_ACCOUNT": "F1A00000-0000-4000-8000-000000000001"},
			want: with(func(c *config) { c.RewardsAccount = "f1a00000-0000-4000-8000-000000000001" }), limit: "0.00"},
		{name: "rewards account not an id", env: map[string]string{"CASHPOOL_REWARDS_ACCOUNT": "firm"},
			wantErr: `CASHPOOL_REWARDS_ACCOUNT "firm": want the rewards (firm) account's id, a UUID, or unset for the sweep account`},
		{name: "batch size zero", env: map[string]string{"CASHPOOL_BATCH_SIZE": "0"},
			wantErr: `CASHPOOL_BATCH_SIZE "0": want a positive whole number`},
		{name: "batch size zero on the command line", env: map[string]string{"CASHPOOL_BATCH_SIZE": "250"},
			args: []string{"--batch-size", "0"}, wantErr: `--batch-size "0": want a positive whole number`},
		{name: "journal limit with an exponent", env: map[string]string{"CASHPOOL_JOURNAL_LIMIT": "1e3"},
			wantErr: `CASHPOOL_JOURNAL_LIMIT "1e3": want 0 (none) or an amount such as 10000.00`},
		{name: "max in flight negative", env: map[string]string{"CASHPOOL_MAX_IN_FLIGHT": "-1"},
			wantErr: `CASHPOOL_MAX_IN_FLIGHT "-1": want a positive whole number`},
		{name: "track for without a unit", env: map[string]string{"CASHPOOL_TRACK_FOR": "6"},
			wantErr: `CASHPOOL_TRACK_FOR "6": want a duration such as 6h`},
		{name: "track for negative", env: map[string]string{"CASHPOOL_TRACK_FOR": "-1h"},
			wantErr: `CASHPOOL_TRACK_FOR "-1h": want a duration such as 6h`},
		{name: "poll every not a duration", env: map[string]string{"CASHPOOL_POLL_EVERY": "often"},
			wantErr: `CASHPOOL_POLL_EVERY "often": want a duration such as 30s`},
		{name: "settle for not a duration", env: map[string]string{"CASHPOOL_SETTLE_FOR": "10"},
			wantErr: `CASHPOOL_SETTLE_FOR "10": want a duration such as 10s`},
		{name: "key retention zero", env: map[string]string{"CASHPOOL_KEY_RETENTION": "0s"},
			wantErr: `CASHPOOL_KEY_RETENTION "0s": want a positive duration such as 24h`},
		{name: "claim lease under a second", env: map[string]string{"CASHPOOL_CLAIM_LEASE": "500ms"},
			wantErr: `CASHPOOL_CLAIM_LEASE "500ms": want a duration of a second or more such as 1m`},
		{name: "track lease under a second", env: map[string]string{"CASHPOOL_TRACK_LEASE": "900ms"},
			wantErr: `CASHPOOL_TRACK_LEASE "900ms": want a duration of a second or more such as 15s`},
		{name: "await receipt negative", env: map[string]string{"CASHPOOL_AWAIT_RECEIPT_FOR": "-72h"},
			wantErr: `CASHPOOL_AWAIT_RECEIPT_FOR "-72h": want a positive duration such as 72h`},
		{name: "watch days zero", env: map[string]string{"CASHPOOL_WATCH_DAYS": "0"},
			wantErr: `CASHPOOL_WATCH_DAYS "0": want a positive whole number of days`},
		{name: "watch days a duration", env: map[string]string{"CASHPOOL_WATCH_DAYS": "5d"},
			wantErr: `CASHPOOL_WATCH_DAYS "5d": want a positive whole number of days`},
		{name: "scan every zero", env: map[string]string{"CASHPOOL_SCAN_EVERY": "0s"},
			wantErr: `CASHPOOL_SCAN_EVERY "0s": want a positive duration such as 1m`},
		{name: "unknown time zone", env: map[string]string{"CASHPOOL_TZ": "Mars/Base"},
			wantErr: `CASHPOOL_TZ "Mars/Base": unknown time zone Mars/Base`},
		// No today to default --date to: the zone's error alone, not a second one about the date.
		{name: "unknown time zone and no --date", env: map[string]string{"CASHPOOL_TZ": "Mars/Base"}, args: []string{"--date", ""},
			wantErr: `CASHPOOL_TZ "Mars/Base": unknown time zone Mars/Base`},
		{name: "unknown time zone and a bad --date", env: map[string]string{"CASHPOOL_TZ": "Mars/Base"}, args: []string{"--date", "2026-13-01"},
			wantErr: "CASHPOOL_TZ \"Mars/Base\": unknown time zone Mars/Base\n--date \"2026-13-01\": want YYYY-MM-DD"},
		{name: "unknown report format", env: map[string]string{"CASHPOOL_REPORT_FORMATS": "csv, pdf"},
			wantErr: `report format "pdf" (CASHPOOL_REPORT_FORMATS, --format): want csv, json or html`},
		{name: "bad date", args: []string{"--date", "20-11-2026"}, wantErr: `--date "20-11-2026": want YYYY-MM-DD`},
		{name: "every problem at once, in the table's order",
			env: map[string]string{"CASHPOOL_WATCH_DAYS": "x", "CASHPOOL_BATCH_SIZE": "x", "CASHPOOL_MAX_IN_FLIGHT": "0"},
			wantErr: "CASHPOOL_BATCH_SIZE \"x\": want a positive whole number\n" +
				"CASHPOOL_WATCH_DAYS \"x\": want a positive whole number of days\n" +
				"CASHPOOL_MAX_IN_FLIGHT \"0\": want a positive whole number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if !slices.Contains(args, "--date") {
				args = append(args, "--date", "2026-11-20")
			}
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = v
			}
			got, err := parseConfig(t, env, args...)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error:\n%v\nwant:\n%s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.TZ == nil || got.TZ.String() != tc.want.TZName {
				t.Errorf("TZ %v, want %s", got.TZ, tc.want.TZName)
			}
			if s := got.JournalLimit.StringFixed(2); s != tc.limit {
				t.Errorf("JournalLimit %s, want %s", s, tc.limit)
			}
			got.TZ, got.JournalLimit = nil, journalLimit{}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// TestConfigReadsEveryDocumentedVariable: README's configuration section is the contract. Every
// variable it names is read, nothing it does not name is, and every flag its table names exists.
func TestConfigReadsEveryDocumentedVariable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start := strings.Index(section, "\n## Configuration\n")
	if start < 0 {
		t.Fatal("README has no ## Configuration section")
	}
	section = section[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = true
	}
	var flags []string
	for _, line := range strings.Split(section, "\n") {
		if cells := strings.Split(line, "|"); strings.HasPrefix(line, "| `") && len(cells) > 2 {
			for _, m := range regexp.MustCompile("`--([a-z-]+)`").FindAllStringSubmatch(cells[1], -1) {
				flags = append(flags, m[1])
			}
		}
	}
	if len(documented) < 20 || len(flags) < 5 {
		t.Fatalf("README's configuration section looks cut short: %d variables, %d flags", len(documented), len(flags))
	}
	read := map[string]bool{}
	for _, n := range envNames() {
		read[n] = true
	}
	for n := range documented {
		if !read[n] {
			t.Errorf("README documents %s but the configuration does not read it", n)
		}
	}
	for n := range read {
		if !documented[n] {
			t.Errorf("the configuration reads %s but README's configuration section does not document it", n)
		}
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	if _, _, err := loadConfig(fs, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range flags {
		if fs.Lookup(f) == nil {
			t.Errorf("README documents the flag --%s but no pipeline command has it", f)
		}
	}
}
