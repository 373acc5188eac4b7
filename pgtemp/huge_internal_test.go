package pgtemp

import "testing"

// hugeMB counts only the mappings the kernel names /anon_hugepage (a MAP_HUGETLB mapping, as a
// server with huge_pages on or try gets when the kernel has them), by their address range; a
// server on 4 KB pages maps its shared memory as /dev/zero or anonymous.
func TestHugeMB(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		maps string
		want int64
	}{
		{"huge pages", `55d0c8a00000-55d0c8b2f000 r--p 00000000 08:01 1835015                    /usr/lib/postgresql/15/bin/postgres
7f3a40000000-7f3a62600000 rw-s 00000000 00:0f 1234                       /anon_hugepage (deleted)
7f3a62800000-7f3a62a00000 rw-p 00000000 00:00 0 
7ffd1c9d4000-7ffd1c9f5000 rw-p 00000000 00:00 0                          [stack]
`, 550},
		{"ordinary pages", `55d0c8a00000-55d0c8b2f000 r--p 00000000 08:01 1835015                    /usr/lib/postgresql/15/bin/postgres
7f3a40000000-7f3a62600000 rw-s 00000000 00:01 5678                       /dev/zero (deleted)
7f3a62800000-7f3a62a00000 rw-p 00000000 00:00 0 
`, 0},
		{"two huge mappings and a torn line", `7f3a40000000-7f3a40200000 rw-s 00000000 00:0f 1 /anon_hugepage (deleted)
7f3a50000000-7f3a50400000 rw-s 00000000 00:0f 2 /anon_hugepage (deleted)
7f3a60000000 rw-s 00000000 00:0f 3 /anon_hugepage
`, 6},
		{"empty", "", 0},
	} {
		if got := hugeMB([]byte(c.maps)); got != c.want {
			t.Errorf("%s: %d MB, want %d", c.name, got, c.want)
		}
	}
}
