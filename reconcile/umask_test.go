package reconcile_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cashpool/cashpool/reconcile"
)

// Reports hold account ids and amounts: their files and folder get the modes the umask allows,
// never a fixed world-readable 0644. Not parallel: the umask belongs to the whole process, and
// Go runs no parallel test while a sequential one runs.
func TestWriteRespectsUmask(t *testing.T) {
	for _, c := range []struct {
		umask     int
		file, dir os.FileMode
	}{
		{0o027, 0o640, 0o750},
		{0o077, 0o600, 0o700},
		{0o002, 0o664, 0o775},
	} {
		old := syscall.Umask(c.umask)
		dir := filepath.Join(t.TempDir(), "2026-11-24")
		paths, err := reconcile.Write(dir, &reconcile.Report{BusinessDate: "2026-11-24"}, "csv", "json", "html")
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) != 4 {
			t.Fatalf("wrote %v, want 4 files", paths)
		}
		for _, p := range append(paths, dir) {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			want := c.file
			if fi.IsDir() {
				want = c.dir
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("umask %03o: %s has mode %03o, want %03o", c.umask, filepath.Base(p), got, want)
			}
		}
	}
}
