package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/batch/jnlc"
	"github.com/cashpool/cashpool/batch/plan"
	"github.com/cashpool/cashpool/batch/submit"
	"github.com/cashpool/cashpool/batch/track"
	"github.com/cashpool/cashpool/pool"
	"github.com/cashpool/cashpool/reconcile"
)

// Defaults of the settings only the command uses. Every other default is the package's that uses
// the setting (jnlc.BatchSizeDefault, submit.MaxInFlightDefault, ...).
const (
	// TZDefault is the firm's time zone. Defaults to America/New_York.
	TZDefault = "America/New_York"
	// LogFormatDefault is the shape of log lines (text or json). Defaults to text.
	LogFormatDefault = "text"
	// LogLevelDefault is the lowest level logged (debug, info, warn, error). Defaults to info.
	LogLevelDefault = "info"
	// SettleForDefault is the pause before a second drop-folder scan. Defaults to 10s.
	SettleForDefault = 10 * time.Second
	// ScheduleDefault is serve's cron schedule. Defaults to 30 1 * * * (01:30 every day).
	ScheduleDefault = "30 1 * * *"
	// HTTPAddrDefault is serve's HTTP address. Defaults to 127.0.0.1:8080.
	HTTPAddrDefault = "127.0.0.1:8080"
	// ConsoleUserHeaderDefault is the header an authenticating proxy names the person in.
	// Defaults to X-Forwarded-User.
	ConsoleUserHeaderDefault = "X-Forwarded-User"
	// ScanEveryDefault is how often serve scans the drop folder between nights. Defaults to 1m.
	ScanEveryDefault = time.Minute
	// MetricsTextfileDefault is where a one-shot command writes its metrics for node_exporter.
	// Defaults to none.
	MetricsTextfileDefault = ""
	// PushgatewayURLDefault is the Pushgateway a one-shot command pushes its metrics to. Defaults
	// to none.
	PushgatewayURLDefault = ""
)

// config is every setting: the environment (README's configuration table, tag by tag) read by
// env, then the flags that override it. A `want` tag is what a bad value is told it should be.
type config struct {
	// Secrets and URLs are strings: env never fails on them, so never quotes them.
	DatabaseURL     string `env:"DATABASE_URL"`
	DatabaseURLFile string `env:"DATABASE_URL_FILE"`
	BrokerURL       string `env:"APCA_BROKER_URL"`
	KeyID           string `env:"APCA_API_KEY_ID"`
	Secret          string `env:"APCA_API_SECRET_KEY"`
	SecretFile      string `env:"APCA_API_SECRET_KEY_FILE"`

	SweepAccount string        `env:"CASHPOOL_SWEEP_ACCOUNT"`
	DropDir      string        `env:"CASHPOOL_DROP_DIR"`
	ReceiptsPat  string        `env:"CASHPOOL_RECEIPTS_PATTERN"`
	AllocPat     string        `env:"CASHPOOL_ALLOCATIONS_PATTERN"`
	RewardsPat   string        `env:"CASHPOOL_REWARDS_PATTERN"`
	BAI2Pat      string        `env:"CASHPOOL_BAI2_PATTERN"`
	CAMTPat      string        `env:"CASHPOOL_CAMT_PATTERN"`
	BankAccount  string        `env:"CASHPOOL_BANK_ACCOUNT"`
	OutDir       string        `env:"CASHPOOL_OUT_DIR"`
	TZName       string        `env:"CASHPOOL_TZ"`
	BatchSize    int           `env:"CASHPOOL_BATCH_SIZE" want:"a positive whole number"`
	JournalLimit journalLimit  `env:"CASHPOOL_JOURNAL_LIMIT" want:"0 (none) or an amount such as 10000.00"`
	MaxInFlight  int           `env:"CASHPOOL_MAX_IN_FLIGHT" want:"a positive whole number"`
	KeyRetention time.Duration `env:"CASHPOOL_KEY_RETENTION" want:"a positive duration such as 24h"`
	ClaimLease   time.Duration `env:"CASHPOOL_CLAIM_LEASE" want:"a duration of a second or more such as 1m"`
	TrackLease   time.Duration `env:"CASHPOOL_TRACK_LEASE" want:"a duration of a second or more such as 15s"`
	TrackFor     time.Duration `env:"CASHPOOL_TRACK_FOR" want:"a duration such as 6h"`
	PollEvery    time.Duration `env:"CASHPOOL_POLL_EVERY" want:"a duration such as 30s"`
	SettleFor    time.Duration `env:"CASHPOOL_SETTLE_FOR" want:"a duration such as 10s"`
	RequireReady bool          `env:"CASHPOOL_REQUIRE_READY" want:"true or false"`
	AwaitFor     time.Duration `env:"CASHPOOL_AWAIT_RECEIPT_FOR" want:"a positive duration such as 72h"`
	WatchDays    int           `env:"CASHPOOL_WATCH_DAYS" want:"a positive whole number of days"`
	Formats      []string      `env:"CASHPOOL_REPORT_FORMATS"`
	Schedule     string        `env:"CASHPOOL_SCHEDULE"`
	HTTPAddr     string        `env:"CASHPOOL_HTTP_ADDR"`
	ScanEvery    time.Duration `env:"CASHPOOL_SCAN_EVERY" want:"a positive duration such as 1m"`
	RunHolidays  bool          `env:"CASHPOOL_RUN_ON_HOLIDAYS" want:"true or false"`
	LogFormat    string        `env:"CASHPOOL_LOG_FORMAT"` // checked by newLogger, which reads it first
	LogLevel     string        `env:"CASHPOOL_LOG_LEVEL"`

	// RewardsAccount is the firm account rewards (JNLS) are given from; the sweep account when unset.
	RewardsAccount string `env:"CASHPOOL_REWARDS_ACCOUNT"`

	// Where a one-shot command publishes its metrics; serve is scraped instead.
	MetricsTextfile string `env:"CASHPOOL_METRICS_TEXTFILE"`
	PushgatewayURL  string `env:"CASHPOOL_PUSHGATEWAY_URL"`

	ConsoleToken      string `env:"CASHPOOL_CONSOLE_TOKEN"` // a secret: never quoted
	ConsoleTokenFile  string `env:"CASHPOOL_CONSOLE_TOKEN_FILE"`
	ConsoleUserHeader string `env:"CASHPOOL_CONSOLE_USER_HEADER"`

	// Derived from the above by finish.
	TZ       *time.Location `env:"-"`
	WatchFor time.Duration  `env:"-"`
	Date     string         `env:"-"` // --date only
}

// journalLimit is CASHPOOL_JOURNAL_LIMIT, read with the amount rules ("1e3" is refused).
type journalLimit struct{ decimal.Decimal }

func (l *journalLimit) UnmarshalText(b []byte) error {
	d, err := pool.ParseLimit(string(b))
	l.Decimal = d
	return err
}

// defaultConfig holds every default, each taken from its one home.
func defaultConfig() config {
	return config{
		DropDir:      batch.DropDirDefault,
		ReceiptsPat:  ingest.ReceiptsPatternDefault,
		AllocPat:     ingest.AllocationsPatternDefault,
		RewardsPat:   ingest.RewardsPatternDefault,
		BAI2Pat:      ingest.BAI2PatternDefault,
		CAMTPat:      ingest.CAMTPatternDefault,
		OutDir:       batch.OutDirDefault,
		TZName:       TZDefault,
		BatchSize:    jnlc.BatchSizeDefault,
		MaxInFlight:  submit.MaxInFlightDefault,
		KeyRetention: submit.KeyRetentionDefault,
		ClaimLease:   submit.LeaseDefault,
		TrackLease:   track.LeaseDefault,
		TrackFor:     batch.TrackForDefault,
		PollEvery:    track.PollEveryDefault,
		SettleFor:    SettleForDefault,
		AwaitFor:     plan.AwaitReceiptForDefault,
		WatchDays:    int(reconcile.WatchForDefault / (24 * time.Hour)),
		Formats:      []string{reconcile.FormatDefault},
		Schedule:     ScheduleDefault,
		HTTPAddr:     HTTPAddrDefault,
		ScanEvery:    ScanEveryDefault,
		LogFormat:    LogFormatDefault,
		LogLevel:     LogLevelDefault,

		ConsoleUserHeader: ConsoleUserHeaderDefault,
		MetricsTextfile:   MetricsTextfileDefault,
		PushgatewayURL:    PushgatewayURLDefault,
	}
}

// flagOf names the flag that overrides a variable: a bad value of the variable does not matter
// when the flag is given.
var flagOf = map[string]string{
	"CASHPOOL_DROP_DIR": "drop", "CASHPOOL_OUT_DIR": "out", "CASHPOOL_SWEEP_ACCOUNT": "sweep",
	"CASHPOOL_REPORT_FORMATS": "format", "CASHPOOL_BATCH_SIZE": "batch-size",
}

// loadConfig reads environ (NAME → value; nil reads the process's environment) and registers the
// flags that override it on fs. finish, called once fs is parsed, validates everything in one
// place and returns every problem at once, each naming its variable or flag. A secret's value is
// never part of a message.
func loadConfig(fs *flag.FlagSet, environ map[string]string) (*config, func() error, error) {
	if environ == nil {
		environ = env.ToMap(os.Environ())
	}
	c := defaultConfig()
	envErrs := map[string]error{} // by variable
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		var agg env.AggregateError
		if !errors.As(err, &agg) {
			return nil, nil, err
		}
		for _, e := range agg.Errors {
			name, msg := describeEnvError(e, environ)
			if name == "" {
				return nil, nil, e // not a value's fault: a field env cannot fill
			}
			envErrs[name] = errors.New(msg)
		}
	}
	var err error
	if c.DatabaseURL, err = secretOrFile("DATABASE_URL", c.DatabaseURL, c.DatabaseURLFile); err != nil {
		return nil, nil, err
	}
	if c.Secret, err = secretOrFile("APCA_API_SECRET_KEY", c.Secret, c.SecretFile); err != nil {
		return nil, nil, err
	}
	if c.ConsoleToken, err = secretOrFile("CASHPOOL_CONSOLE_TOKEN", c.ConsoleToken, c.ConsoleTokenFile); err != nil {
		return nil, nil, err
	}
	c.BrokerURL = strings.TrimRight(c.BrokerURL, "/")

	formats := strings.Join(c.Formats, ",")
	fs.StringVar(&c.Date, "date", "", "business date YYYY-MM-DD (default: today in CASHPOOL_TZ)")
	fs.StringVar(&c.DropDir, "drop", c.DropDir, "drop folder (CASHPOOL_DROP_DIR)")
	fs.StringVar(&c.OutDir, "out", c.OutDir, "report folder (CASHPOOL_OUT_DIR)")
	fs.StringVar(&c.SweepAccount, "sweep", c.SweepAccount, "sweep account id (CASHPOOL_SWEEP_ACCOUNT)")
	fs.StringVar(&formats, "format", formats, "report formats, comma separated: csv, json, html (CASHPOOL_REPORT_FORMATS)")
	fs.IntVar(&c.BatchSize, "batch-size", c.BatchSize, "journals per batch (CASHPOOL_BATCH_SIZE)")

	finish := func() error {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		var errs []error
		for _, name := range envNames() {
			if e := envErrs[name]; e != nil && !set[flagOf[name]] {
				errs = append(errs, e)
			}
		}
		c.Formats = strings.Split(formats, ",")
		errs = append(errs, c.validate(envErrs, environ, set)...)
		return errors.Join(errs...)
	}
	return &c, finish, nil
}

// validate checks and derives what env's types do not: the one place every setting's rule lives.
// Settings env already refused (envErrs) are not judged again; a bad value is quoted as it was
// given, in environ or on the command line (flags set).
func (c *config) validate(envErrs map[string]error, environ map[string]string, flags map[string]bool) []error {
	var errs []error
	bad := func(name string, value any, want string) {
		given := environ[name]
		if f := flagOf[name]; flags[f] {
			name, given = "--"+f, fmt.Sprint(value)
		}
		if envErrs[name] == nil {
			errs = append(errs, fmt.Errorf("%s %q: want %s", name, given, want))
		}
	}
	c.SweepAccount = strings.ToLower(c.SweepAccount)
	c.RewardsAccount = strings.ToLower(c.RewardsAccount)
	if c.RewardsAccount != "" && !pool.IsUUID(c.RewardsAccount) {
		bad("CASHPOOL_REWARDS_ACCOUNT", c.RewardsAccount, "the rewards (firm) account's id, a UUID, or unset for the sweep account")
	}
	loc, err := time.LoadLocation(c.TZName)
	if err != nil {
		errs = append(errs, fmt.Errorf("CASHPOOL_TZ %q: %w", c.TZName, err))
	}
	c.TZ = loc
	if c.BatchSize < 1 {
		bad("CASHPOOL_BATCH_SIZE", c.BatchSize, "a positive whole number")
	}
	if c.MaxInFlight < 1 {
		bad("CASHPOOL_MAX_IN_FLIGHT", c.MaxInFlight, "a positive whole number")
	}
	if c.TrackFor < 0 {
		bad("CASHPOOL_TRACK_FOR", c.TrackFor, "a duration such as 6h")
	}
	if c.PollEvery < 0 {
		bad("CASHPOOL_POLL_EVERY", c.PollEvery, "a duration such as 30s")
	}
	if c.SettleFor < 0 {
		bad("CASHPOOL_SETTLE_FOR", c.SettleFor, "a duration such as 10s")
	}
	if c.KeyRetention <= 0 {
		bad("CASHPOOL_KEY_RETENTION", c.KeyRetention, "a positive duration such as 24h")
	}
	if c.ClaimLease < time.Second {
		bad("CASHPOOL_CLAIM_LEASE", c.ClaimLease, "a duration of a second or more such as 1m")
	}
	if c.TrackLease < time.Second {
		bad("CASHPOOL_TRACK_LEASE", c.TrackLease, "a duration of a second or more such as 15s")
	}
	if c.AwaitFor <= 0 {
		bad("CASHPOOL_AWAIT_RECEIPT_FOR", c.AwaitFor, "a positive duration such as 72h")
	}
	if c.WatchDays < 1 {
		bad("CASHPOOL_WATCH_DAYS", c.WatchDays, "a positive whole number of days")
	}
	c.WatchFor = time.Duration(c.WatchDays) * 24 * time.Hour
	if c.ScanEvery <= 0 {
		bad("CASHPOOL_SCAN_EVERY", c.ScanEvery, "a positive duration such as 1m")
	}
	if c.PushgatewayURL != "" {
		if u, err := url.Parse(c.PushgatewayURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("CASHPOOL_PUSHGATEWAY_URL %q: want an http or https URL such as http://pushgateway:9091", alpaca.RedactURL(c.PushgatewayURL)))
		}
	}
	for i, f := range c.Formats {
		f = strings.TrimSpace(f)
		switch f {
		case "csv", "json", "html":
			c.Formats[i] = f
		default:
			errs = append(errs, fmt.Errorf("report format %q (CASHPOOL_REPORT_FORMATS, --format): want csv, json or html", f))
		}
	}
	// Without a zone there is no today to default --date to: CASHPOOL_TZ's error says why.
	if c.Date == "" && c.TZ != nil {
		c.Date = time.Now().In(c.TZ).Format(time.DateOnly)
	}
	if _, err := time.Parse(time.DateOnly, c.Date); err != nil && (c.Date != "" || c.TZ != nil) {
		errs = append(errs, fmt.Errorf("--date %q: want YYYY-MM-DD", c.Date))
	}
	return errs
}

// describeEnvError turns env's error (which names the Go field) into one naming the variable and
// what it wants.
func describeEnvError(err error, environ map[string]string) (name, msg string) {
	var pe env.ParseError
	if !errors.As(err, &pe) {
		return "", err.Error()
	}
	f, _ := reflect.TypeFor[config]().FieldByName(pe.Name)
	name = strings.Split(f.Tag.Get("env"), ",")[0]
	want := f.Tag.Get("want")
	if want == "" {
		return name, fmt.Sprintf("%s %q: %v", name, environ[name], pe.Err)
	}
	return name, fmt.Sprintf("%s %q: want %s", name, environ[name], want)
}

// envNames lists the variables config reads, in its order.
func envNames() []string {
	var names []string
	t := reflect.TypeFor[config]()
	for i := range t.NumField() {
		if n := strings.Split(t.Field(i).Tag.Get("env"), ",")[0]; n != "" && n != "-" {
			names = append(names, n)
		}
	}
	return names
}

// secretOrFile is value, or the contents of the file named by NAME_FILE (for secrets mounted as
// files). A secret file anyone but its owner may read is refused: the secret may already be out.
func secretOrFile(name, value, file string) (string, error) {
	if value != "" || file == "" {
		return value, nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s_FILE %s is readable by group or others (mode %04o): make it readable by cashpool's user only (chmod 600 %s)",
			name, file, perm, file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// needBroker checks the settings a command that talks to Alpaca needs. There is no default broker
// URL: cashpool never talks to a simulator, or to production, unless told to.
func (c *config) needBroker() error {
	var errs []error
	if c.BrokerURL == "" {
		errs = append(errs, errors.New("APCA_BROKER_URL is not set (https://broker-api.alpaca.markets, https://broker-api.sandbox.alpaca.markets, or a `cashpool sandbox` address)"))
	} else if u, err := alpaca.ParseBaseURL(c.BrokerURL); err != nil {
		errs = append(errs, fmt.Errorf("APCA_BROKER_URL: %w", err)) // never quotes a password
	} else {
		c.BrokerURL = u
	}
	if c.KeyID == "" {
		errs = append(errs, errors.New("APCA_API_KEY_ID is not set"))
	}
	if c.Secret == "" {
		errs = append(errs, errors.New("APCA_API_SECRET_KEY (or APCA_API_SECRET_KEY_FILE) is not set"))
	}
	return errors.Join(append(errs, c.needSweep())...)
}

func (c *config) needSweep() error {
	if !pool.IsUUID(c.SweepAccount) {
		return errors.New("CASHPOOL_SWEEP_ACCOUNT must be the sweep account's id (a UUID)")
	}
	return nil
}
