package pgtemp_test

import (
	"database/sql"
	"os"
	"regexp"
	"testing"

	_ "github.com/lib/pq"

	"github.com/cashpool/cashpool/pgtemp"
)

// The settings each kind of cluster must run with, as the server reports them: a benchmark's
// figures hold only if it commits durably; a test's cluster trades that for speed.
func TestClusterSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		start func(t *testing.T) (*pgtemp.Cluster, error)
		want  map[string]string
	}{
		{"durable", func(t *testing.T) (*pgtemp.Cluster, error) { return pgtemp.StartDurable(t.Context()) },
			map[string]string{"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on",
				"max_wal_size": "8GB", "shared_buffers": "512MB", "huge_pages": "try"}},
		{"test", func(t *testing.T) (*pgtemp.Cluster, error) { return pgtemp.Start(t.Context()) },
			map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cl, err := c.start(t)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cl.Stop() })
			db, err := sql.Open("postgres", cl.URL("postgres"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for name, want := range c.want {
				var got string
				if err := db.QueryRow(`SELECT current_setting($1)`, name).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s = %s, want %s", name, got, want)
				}
			}
		})
	}
}

// SharedHugeMB reads a running server's memory map: on a machine with no huge pages reserved
// (/proc/meminfo, the oracle) it is 0; with some, the server has either none of its shared memory
// in them or all of it, at least its shared buffers.
func TestSharedHugeMBReadsTheServersMap(t *testing.T) {
	t.Parallel()
	cl, err := pgtemp.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Stop() })
	got, err := cl.SharedHugeMB()
	if err != nil {
		t.Fatal(err)
	}
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	reserved := !regexp.MustCompile(`(?m)^HugePages_Total:\s+0$`).Match(meminfo)
	switch {
	case !reserved && got != 0:
		t.Errorf("%d MB in huge pages on a machine with none reserved", got)
	case got != 0 && got < 64: // the test cluster's shared_buffers
		t.Errorf("%d MB in huge pages, less than the server's 64 MB of shared buffers", got)
	}
}
