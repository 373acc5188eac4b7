// Package schematest gives every test its own migrated PostgreSQL database. With DATABASE_URL set
// the databases are created on that server; without it a throwaway cluster is started for the test
// binary and stopped when it ends. A migrated template is cloned per test, so tests never see each
// other's rows and migrations run once per package.
package schematest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/pgtemp"
)

var (
	serverURL string // the admin connection, database "postgres"
	template  string
	counter   atomic.Int64
	once      sync.Once
	onceErr   error
	cluster   *pgtemp.Cluster
)

// Main runs the package's tests and then stops whatever it started. Use it from TestMain:
//
//	func TestMain(m *testing.M) { schematest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if template != "" {
		if db, err := sqlx.Open("postgres", serverURL); err == nil {
			db.Exec(`DROP DATABASE IF EXISTS ` + template)
			db.Close()
		}
	}
	cluster.Stop()
	os.Exit(code)
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if u := os.Getenv("DATABASE_URL"); u != "" {
		pu, err := url.Parse(u)
		if err != nil {
			return fmt.Errorf("DATABASE_URL does not parse as a URL")
		}
		pu.Path = "/postgres"
		serverURL = pu.String()
	} else {
		c, err := pgtemp.Start(ctx)
		if err != nil {
			return err
		}
		cluster = c
		serverURL = c.URL("postgres")
	}
	admin, err := schema.Open(ctx, serverURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	template = fmt.Sprintf("cashpool_tmpl_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+template); err != nil {
		return err
	}
	tdb, err := schema.Open(ctx, withDB(serverURL, template))
	if err != nil {
		return err
	}
	defer tdb.Close()
	_, err = schema.Migrate(ctx, tdb.DB)
	return err
}

func withDB(u, name string) string {
	pu, _ := url.Parse(u)
	pu.Path = "/" + name
	return pu.String()
}

// URL creates a fresh migrated database for t, dropped when t ends, and returns its URL.
func URL(t testing.TB) string {
	t.Helper()
	started(t)
	u, err := create(t, ` TEMPLATE `+template)
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	return u
}

// CollatedDB is DB for a database whose default collation is the ICU locale icu (say "en-US"),
// created empty and migrated for t: the test cluster itself uses the C locale, which would hide any
// dependence on a locale's order. A server without ICU support fails t: a skipped test would pass
// silently, and PostgreSQL as packaged by Debian and the PGDG has ICU.
func CollatedDB(t testing.TB, icu string) *sqlx.DB {
	t.Helper()
	started(t)
	u, err := create(t, ` TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE `+pq.QuoteLiteral(icu))
	if err != nil {
		t.Fatalf("this PostgreSQL cannot create a database with ICU collation %s (is it built without ICU?): %v", icu, err)
	}
	db, err := schema.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := schema.Migrate(context.Background(), db.DB); err != nil {
		t.Fatal(err)
	}
	return db
}

// started sets up the server and the migrated template once per test binary.
func started(t testing.TB) {
	t.Helper()
	once.Do(func() { onceErr = setup() })
	if onceErr != nil {
		t.Fatalf("test database: %v", onceErr)
	}
}

// create runs CREATE DATABASE <new name><options> for t, drops the database when t ends, and
// returns its URL.
func create(t testing.TB, options string) (string, error) {
	t.Helper()
	name := fmt.Sprintf("cashpool_t_%d_%d", os.Getpid(), counter.Add(1))
	admin, err := sqlx.Open("postgres", serverURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// CREATE DATABASE ... TEMPLATE fails if another session is connected to the template.
	for i := 0; ; i++ {
		_, err = admin.Exec(`CREATE DATABASE ` + name + options)
		if err == nil || i > 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return "", err
	}
	t.Cleanup(func() {
		a, err := sqlx.Open("postgres", serverURL)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	})
	return withDB(serverURL, name), nil
}

// DB is URL plus an open handle, closed when t ends.
func DB(t testing.TB) *sqlx.DB {
	t.Helper()
	db, err := schema.Open(context.Background(), URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
