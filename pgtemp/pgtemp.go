// Package pgtemp starts a throwaway PostgreSQL cluster for the demo, the tests and the benchmarks:
// server binaries from PATH or /usr/lib/postgresql/*/bin, a fresh data directory, a free loopback
// port, and everything removed on Stop. When the process runs as root, initdb and the server run
// as the postgres user, because initdb refuses root.
package pgtemp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"syscall"
)

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	dir      string
	port     int
	bin      string
	pgCtl    string
	asUser   *user.User
	settings []string
}

// testSettings trade durability for speed: a test's cluster dies with the test, so nothing it
// writes needs to survive a crash.
var testSettings = []string{"fsync=off", "synchronous_commit=off", "full_page_writes=off",
	"max_connections=200", "shared_buffers=64MB"}

// DurableSettings are the settings of StartDurable: fsync, synchronous_commit and
// full_page_writes stay on (PostgreSQL's defaults), as in production; only what README recommends
// for big nights changes: a WAL budget large enough that a night does not checkpoint every few
// seconds, shared buffers that hold a night's hot pages, and those in huge pages when the machine
// has them reserved (huge_pages=try, PostgreSQL's default, named here because the figures depend
// on it: SharedHugeMB tells whether the server got them).
var DurableSettings = []string{"max_wal_size=8GB", "min_wal_size=1GB", "checkpoint_timeout=15min",
	"shared_buffers=512MB", "huge_pages=try"}

// Start creates and starts a new cluster for tests (fsync off). The caller must call Stop.
func Start(ctx context.Context) (*Cluster, error) { return start(ctx, testSettings) }

// StartDurable creates and starts a new cluster that commits durably, as production does, with
// DurableSettings: for benchmarks, whose figures must hold on a real server. The caller must call
// Stop.
func StartDurable(ctx context.Context) (*Cluster, error) { return start(ctx, DurableSettings) }

func start(ctx context.Context, settings []string) (*Cluster, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, pgCtl: filepath.Join(bin, "pg_ctl"), settings: settings}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, errors.New("running as root and there is no postgres user to run initdb as")
		}
		c.asUser = u
	}
	dir, err := os.MkdirTemp("", "cashpool-pg-")
	if err != nil {
		return nil, err
	}
	c.dir = dir
	if err := c.chown(dir); err != nil {
		c.cleanup()
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if out, err := c.command(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		c.cleanup()
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	// A few ports may be taken between choosing and binding; try again on a new one.
	for attempt := 0; ; attempt++ {
		c.port, err = freePort()
		if err != nil {
			c.cleanup()
			return nil, err
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", c.port, dir)
		for _, s := range settings {
			opts += " -c " + s
		}
		out, err := c.command(ctx, c.pgCtl, "start", "-w", "-t", "60", "-D", data,
			"-l", filepath.Join(dir, "server.log"), "-o", opts).CombinedOutput()
		if err == nil {
			return c, nil
		}
		if attempt >= 3 {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			c.cleanup()
			return nil, fmt.Errorf("pg_ctl start: %w: %s %s", err, out, tail(log))
		}
	}
}

// URL is the connection string of database name on this cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// Settings are the server settings the cluster was started with, NAME=VALUE.
func (c *Cluster) Settings() []string { return slices.Clone(c.settings) }

// Bin is the path of the PostgreSQL program name (psql, pg_dump, ...) of the cluster's version.
func (c *Cluster) Bin(name string) string { return filepath.Join(c.bin, name) }

// Stop stops the server and removes its files.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	out, err := c.command(context.Background(), c.pgCtl, "stop", "-m", "immediate", "-w", "-D",
		filepath.Join(c.dir, "data")).CombinedOutput()
	c.cleanup()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return nil
}

func (c *Cluster) cleanup() { os.RemoveAll(c.dir) }

// SharedHugeMB is how many MB of the server's shared memory (shared buffers and the rest) are
// mapped in huge pages: 0 when the kernel had none free for it (vm.nr_hugepages) and
// huge_pages=try fell back to ordinary 4 KB pages. It reads the postmaster's memory map.
func (c *Cluster) SharedHugeMB() (int64, error) {
	pid, err := os.ReadFile(filepath.Join(c.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := bytes.Cut(pid, []byte("\n"))
	maps, err := os.ReadFile(filepath.Join("/proc", string(bytes.TrimSpace(first)), "maps"))
	if err != nil {
		return 0, err
	}
	return hugeMB(maps), nil
}

// hugeMB sums the MB of a /proc/PID/maps text's anonymous huge-page mappings, the ones
// mmap(MAP_HUGETLB) makes, which the kernel names /anon_hugepage.
func hugeMB(maps []byte) int64 {
	var total uint64
	for line := range bytes.Lines(maps) {
		f := bytes.Fields(line)
		if len(f) < 6 || !bytes.HasPrefix(f[5], []byte("/anon_hugepage")) {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(string(lo), 16, 64)
		b, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 == nil && err2 == nil && b > a {
			total += b - a
		}
	}
	return int64(total >> 20)
}

func (c *Cluster) chown(path string) error {
	if c.asUser == nil {
		return nil
	}
	uid, _ := strconv.Atoi(c.asUser.Uid)
	gid, _ := strconv.Atoi(c.asUser.Gid)
	return os.Chown(path, uid, gid)
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	// The server must outlive a context cancel of the starter but die with a killed test binary's
	// process group only through Stop; keep it in its own process group so ^C reaches us first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.asUser != nil {
		uid, _ := strconv.Atoi(c.asUser.Uid)
		gid, _ := strconv.Atoi(c.asUser.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		cmd.Env = append(cmd.Env, "HOME="+c.dir)
	}
	return cmd
}

func findBinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			if r, err := filepath.EvalSymlinks(p); err == nil {
				p = r
			}
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin; install the PostgreSQL server package or set DATABASE_URL")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
