package pool_test

import (
	"testing"

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
