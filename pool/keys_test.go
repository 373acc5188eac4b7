package pool_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cashpool/cashpool/pool"
)

func TestKeysAreDeterministicAndDistinct(t *testing.T) {
	t.Parallel()
	a := pool.JournalKey("s", "2026-11-24", "R1", "c1", 1)
	if a != pool.JournalKey("s", "2026-11-24", "R1", "c1", 1) {
		t.Fatal("same input gave two keys")
	}
	seen := map[string]bool{a: true}
	for _, k := range []string{
		pool.JournalKey("s", "2026-11-24", "R1", "c1", 2),
		pool.JournalKey("s", "2026-11-25", "R1", "c1", 1),
		pool.JournalKey("s", "2026-11-24", "R1c", "1", 1),
		pool.JournalKey("t", "2026-11-24", "R1", "c1", 1),
		pool.BatchKey("s", "2026-11-24", "1", []byte("{}")),
		pool.BatchKey("s", "2026-11-24", "1", []byte("{ }")),
	} {
		if seen[k] {
			t.Fatalf("key collision: %s", k)
		}
		seen[k] = true
		if len(k) != 36 {
			t.Fatalf("key %q is not 36 characters", k)
		}
	}
	got, ok := pool.TokenFromDescription("rent Nov " + pool.KeyToken(a) + " /fixtures/status=rejected/fixtures/")
	if !ok || got != a {
		t.Fatalf("token not found back: %q %v", got, ok)
	}
	if _, ok := pool.TokenFromDescription("cp:not-a-key"); ok {
		t.Fatal("found a token in a description without one")
	}
}

func TestDescribeFitsAlpacaAndKeepsOneToken(t *testing.T) {
	t.Parallel()
	k1 := pool.JournalKey("s", "d", "R1", "c", 1)
	k2 := pool.JournalKey("s", "d", "R1", "c", 2)
	if got := pool.Describe("rent /fixtures/status=rejected/fixtures/", k1); got != "rent /fixtures/status=rejected/fixtures/ "+pool.KeyToken(k1) {
		t.Fatalf("plain: %q", got)
	}
	// A redrive replaces the earlier attempt's token; it never carries two.
	again := pool.Describe(pool.Describe("rent", k1), k2)
	if strings.Count(again, "cp:") != 1 || !strings.HasSuffix(again, pool.KeyToken(k2)) || !strings.HasPrefix(again, "rent ") {
		t.Fatalf("redriven: %q", again)
	}
	// A long text of three-byte characters is cut at a character boundary, within the limit.
	long := strings.Repeat("€", 400) // 1,200 bytes
	got := pool.Describe(long, k1)
	if len(got) > pool.MaxDescription || !utf8.ValidString(got) {
		t.Fatalf("long: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	if k, ok := pool.TokenFromDescription(got); !ok || k != k1 {
		t.Fatalf("token lost from a long description: %q", got[len(got)-50:])
	}
	if got := pool.Describe("", k1); got != pool.KeyToken(k1) {
		t.Fatalf("empty: %q", got)
	}
}
