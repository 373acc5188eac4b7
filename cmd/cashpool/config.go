package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/pool"
)

// config is every setting, from the environment first, then flags.
type config struct {
	DatabaseURL  string
	BrokerURL    string
	KeyID        string
	Secret       string
	SweepAccount string
	DropDir      string
	ReceiptsPat  string
	AllocPat     string
	OutDir       string
	TZ           *time.Location
	BatchSize    int
	JournalLimit decimal.Decimal
	MaxInFlight  int
	TrackFor     time.Duration
	PollEvery    time.Duration
	SettleFor    time.Duration
	RequireReady bool
	KeyRetention time.Duration
	AwaitFor     time.Duration
	WatchFor     time.Duration
	ScanEvery    time.Duration
	Schedule     string
	HTTPAddr     string
	Date         string
	Formats      []string
}

// envOrFile reads NAME, or the contents of the file named by NAME_FILE (for secrets mounted as
// files). A secret file anyone but its owner may read is refused: the secret may already be out.
func envOrFile(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	if p := os.Getenv(name + "_FILE"); p != "" {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return "", fmt.Errorf("%s_FILE %s is readable by group or others (mode %04o): make it readable by cashpool's user only (chmod 600 %s)",
				name, p, perm, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

func envDefault(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// loadConfig reads the environment and registers the flags that override it on fs.
func loadConfig(fs *flag.FlagSet) (*config, func() error, error) {
	c := &config{}
	var err error
	if c.DatabaseURL, err = envOrFile("DATABASE_URL"); err != nil {
		return nil, nil, err
	}
	if c.Secret, err = envOrFile("APCA_API_SECRET_KEY"); err != nil {
		return nil, nil, err
	}
	c.BrokerURL = strings.TrimRight(os.Getenv("APCA_BROKER_URL"), "/")
	c.KeyID = os.Getenv("APCA_API_KEY_ID")
	c.SweepAccount = strings.ToLower(os.Getenv("CASHPOOL_SWEEP_ACCOUNT"))
	c.DropDir = envDefault("CASHPOOL_DROP_DIR", "drop")
	c.ReceiptsPat = envDefault("CASHPOOL_RECEIPTS_PATTERN", "receipts*.csv")
	c.AllocPat = envDefault("CASHPOOL_ALLOCATIONS_PATTERN", "allocations*.csv")
	c.OutDir = envDefault("CASHPOOL_OUT_DIR", "out")
	c.Schedule = envDefault("CASHPOOL_SCHEDULE", "30 1 * * *")
	c.HTTPAddr = envDefault("CASHPOOL_HTTP_ADDR", "127.0.0.1:8080")
	tz := envDefault("CASHPOOL_TZ", "America/New_York")
	batchSize := envDefault("CASHPOOL_BATCH_SIZE", "500")
	limit := envDefault("CASHPOOL_JOURNAL_LIMIT", "0")
	inFlight := envDefault("CASHPOOL_MAX_IN_FLIGHT", "4")
	trackFor := envDefault("CASHPOOL_TRACK_FOR", "6h")
	pollEvery := envDefault("CASHPOOL_POLL_EVERY", "30s")
	settleFor := envDefault("CASHPOOL_SETTLE_FOR", "10s")
	requireReady := envDefault("CASHPOOL_REQUIRE_READY", "false")
	keyRetention := envDefault("CASHPOOL_KEY_RETENTION", "24h")
	awaitFor := envDefault("CASHPOOL_AWAIT_RECEIPT_FOR", "72h")
	watchDays := envDefault("CASHPOOL_WATCH_DAYS", "5")
	scanEvery := envDefault("CASHPOOL_SCAN_EVERY", "1m")
	formats := envDefault("CASHPOOL_REPORT_FORMATS", "csv")

	fs.StringVar(&c.Date, "date", "", "business date YYYY-MM-DD (default: today in CASHPOOL_TZ)")
	fs.StringVar(&c.DropDir, "drop", c.DropDir, "drop folder (CASHPOOL_DROP_DIR)")
	fs.StringVar(&c.OutDir, "out", c.OutDir, "report folder (CASHPOOL_OUT_DIR)")
	fs.StringVar(&c.SweepAccount, "sweep", c.SweepAccount, "sweep account id (CASHPOOL_SWEEP_ACCOUNT)")
	fs.StringVar(&formats, "format", formats, "report formats, comma separated: csv, json, html")
	fs.IntVar(&c.BatchSize, "batch-size", 0, "journals per batch (CASHPOOL_BATCH_SIZE, default 500)")

	finish := func() error {
		var errs []error
		loc, err := time.LoadLocation(tz)
		if err != nil {
			errs = append(errs, fmt.Errorf("CASHPOOL_TZ %q: %w", tz, err))
		}
		c.TZ = loc
		if c.BatchSize == 0 {
			if c.BatchSize, err = strconv.Atoi(batchSize); err != nil || c.BatchSize < 1 {
				errs = append(errs, fmt.Errorf("CASHPOOL_BATCH_SIZE %q: want a positive whole number", batchSize))
			}
		}
		if c.JournalLimit, err = pool.ParseLimit(limit); err != nil {
			errs = append(errs, fmt.Errorf("CASHPOOL_JOURNAL_LIMIT %q: %w", limit, err))
		}
		if c.MaxInFlight, err = strconv.Atoi(inFlight); err != nil || c.MaxInFlight < 1 {
			errs = append(errs, fmt.Errorf("CASHPOOL_MAX_IN_FLIGHT %q: want a positive whole number", inFlight))
		}
		if c.TrackFor, err = time.ParseDuration(trackFor); err != nil {
			errs = append(errs, fmt.Errorf("CASHPOOL_TRACK_FOR %q: %w", trackFor, err))
		}
		if c.PollEvery, err = time.ParseDuration(pollEvery); err != nil {
			errs = append(errs, fmt.Errorf("CASHPOOL_POLL_EVERY %q: %w", pollEvery, err))
		}
		if c.KeyRetention, err = time.ParseDuration(keyRetention); err != nil || c.KeyRetention <= 0 {
			errs = append(errs, fmt.Errorf("CASHPOOL_KEY_RETENTION %q: want a positive duration such as 24h", keyRetention))
		}
		if c.AwaitFor, err = time.ParseDuration(awaitFor); err != nil || c.AwaitFor <= 0 {
			errs = append(errs, fmt.Errorf("CASHPOOL_AWAIT_RECEIPT_FOR %q: want a positive duration such as 72h", awaitFor))
		}
		if d, err := strconv.Atoi(watchDays); err != nil || d < 1 {
			errs = append(errs, fmt.Errorf("CASHPOOL_WATCH_DAYS %q: want a positive whole number of days", watchDays))
		} else {
			c.WatchFor = time.Duration(d) * 24 * time.Hour
		}
		if c.ScanEvery, err = time.ParseDuration(scanEvery); err != nil || c.ScanEvery <= 0 {
			errs = append(errs, fmt.Errorf("CASHPOOL_SCAN_EVERY %q: want a positive duration such as 1m", scanEvery))
		}
		if c.SettleFor, err = time.ParseDuration(settleFor); err != nil {
			errs = append(errs, fmt.Errorf("CASHPOOL_SETTLE_FOR %q: %w", settleFor, err))
		}
		if c.RequireReady, err = strconv.ParseBool(requireReady); err != nil {
			errs = append(errs, fmt.Errorf("CASHPOOL_REQUIRE_READY %q: want true or false", requireReady))
		}
		for _, f := range strings.Split(formats, ",") {
			f = strings.TrimSpace(f)
			switch f {
			case "csv", "json", "html":
				c.Formats = append(c.Formats, f)
			default:
				errs = append(errs, fmt.Errorf("report format %q: want csv, json or html", f))
			}
		}
		if c.Date == "" && c.TZ != nil {
			c.Date = time.Now().In(c.TZ).Format(time.DateOnly)
		}
		if _, err := time.Parse(time.DateOnly, c.Date); err != nil {
			errs = append(errs, fmt.Errorf("--date %q: want YYYY-MM-DD", c.Date))
		}
		return errors.Join(errs...)
	}
	return c, finish, nil
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
