package pool_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/cashpool/cashpool/pool"
)

// A key is a journal's identity at Alpaca across restarts and releases: these values, written down
// from the release that first sent them, must never change.
func TestKeysAreTheOnesAlreadySent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ what, got, want string }{
		{"journal", pool.JournalKey("8f8c8cee-2591-4f83-be12-82c659b5e748", "2026-12-02", 123456789, 1), "26688034-6aaf-8cc6-8000-0000075bcd15"},
		{"batch", pool.BatchKey("a", "b", "000001", []byte("x")), "2817358f-de9a-87fe-a900-99328bf3414e"},
		{"reward", pool.RewardJournalKey("a", "2026-12-02", "r1", 2), "266cd17c-3532-8624-b7d7-b706097f324c"},
	} {
		if c.got != c.want {
			t.Errorf("%s key %s, want %s", c.what, c.got, c.want)
		}
	}
	keys := pool.NightKeys("8f8c8cee-2591-4f83-be12-82c659b5e748", "2026-12-02", 1)
	if got := keys.Of(123456789); got != "26688034-6aaf-8cc6-8000-0000075bcd15" {
		t.Errorf("NightKeys(...).Of gives %s, not JournalKey's", got)
	}
}

func TestKeysAreDeterministicAndDistinct(t *testing.T) {
	t.Parallel()
	a := pool.JournalKey("s", "2026-11-24", 7, 1)
	if a != pool.JournalKey("s", "2026-11-24", 7, 1) {
		t.Fatal("same input gave two keys")
	}
	seen := map[string]bool{a: true}
	for _, k := range []string{
		pool.JournalKey("s", "2026-11-24", 7, 2),
		pool.JournalKey("s", "2026-11-25", 7, 1),
		pool.JournalKey("s", "2026-11-24", 8, 1),
		pool.JournalKey("t", "2026-11-24", 7, 1),
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
	got, ok := pool.TokenFromDescription("rent Nov /fixtures/status=rejected/fixtures/ " + pool.KeyToken(a))
	if !ok || got != a {
		t.Fatalf("token not found back: %q %v", got, ok)
	}
	if _, ok := pool.TokenFromDescription("cp:not-a-key"); ok {
		t.Fatal("found a token in a description without one")
	}
}

// A night's keys follow its allocations' ids and come after every earlier night's (plan writes them
// in that order, at the end of the keys' index), and two allocations, nights, attempts or sweep
// accounts never share a key. The expected keys' ends are written out by hand: the date's day since
// 2000-01-01 in the first 16 bits, the allocation id in the last 62, under RFC 9562's variant bits.
func TestJournalKeysFollowTheirAllocations(t *testing.T) {
	t.Parallel()
	for id, tail := range map[int64]string{
		1:          "8000-000000000001",
		255:        "8000-0000000000ff",
		1_000_000:  "8000-0000000f4240",
		1<<62 - 1:  "bfff-ffffffffffff",
		0x12345678: "8000-000012345678",
	} {
		// 2026-11-24 is day 9,824 since 2000-01-01: 0x2660.
		if k := pool.JournalKey("s", "2026-11-24", id, 1); !strings.HasSuffix(k, tail) || !strings.HasPrefix(k, "2660") || k[14] != '8' || !pool.IsUUID(k) {
			t.Errorf("key of allocation %d is %s, want a version 8 UUID starting 2660, ending %s", id, k, tail)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		a := rapid.Int64Range(1, 1<<62-2).Draw(t, "a")
		b := rapid.Int64Range(a+1, 1<<62-1).Draw(t, "b")
		attempt := rapid.IntRange(1, 9).Draw(t, "attempt")
		ka, kb := pool.JournalKey("s", "2026-11-24", a, attempt), pool.JournalKey("s", "2026-11-24", b, attempt)
		if ka >= kb {
			t.Fatalf("allocation %d's key %s does not sort before allocation %d's %s", a, ka, b, kb)
		}
		if later := pool.JournalKey("s", "2026-11-25", rapid.Int64Range(1, 1<<62-1).Draw(t, "c"), 1); later <= kb {
			t.Fatalf("the next night's key %s does not sort after %s", later, kb)
		}
		other := []string{pool.JournalKey("s", "2026-11-25", a, attempt), pool.JournalKey("s", "2026-11-24", a, attempt+1),
			pool.JournalKey("t", "2026-11-24", a, attempt)}
		for _, k := range other {
			if k == ka {
				t.Fatalf("allocation %d's key %s is also another night's, attempt's or account's", a, ka)
			}
		}
	})
}

func TestDescribeFitsAlpacaAndKeepsOperatorText(t *testing.T) {
	t.Parallel()
	k1 := pool.JournalKey("s", "d", 1, 1)
	k2 := pool.JournalKey("s", "d", 1, 2)
	if got := pool.Describe("rent /fixtures/status=rejected/fixtures/", k1); got != "rent /fixtures/status=rejected/fixtures/ cp:"+k1 {
		t.Fatalf("plain: %q", got)
	}
	// A redrive describes the operator's text again under the new key: one token, the new one.
	again := pool.Describe(pool.DescriptionText(pool.Describe("rent", k1)), k2)
	if again != "rent cp:"+k2 {
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
	if got := pool.Describe("", k1); got != "cp:"+k1 {
		t.Fatalf("empty: %q", got)
	}
}

// Operators write anything in a description; the key is read from the final token only. The
// expected descriptions are written out by hand.
func TestTokenFoundWhateverTheOperatorWrote(t *testing.T) {
	t.Parallel()
	const key = "0c6f2a9e-4b1d-8e3a-9f00-1a2b3c4d5e6f"
	const other = "7d2c1b0a-9e8f-8a7b-b6c5-d4e3f2a1b0c9"
	cases := []struct{ text, want string }{
		{"tcp: gateway", "tcp: gateway cp:" + key},
		{"see cp: 42", "see cp: 42 cp:" + key},
		{"cp:0C6F2A9E-4B1D-8E3A-9F00-1A2B3C4D5E6F", "cp:0C6F2A9E-4B1D-8E3A-9F00-1A2B3C4D5E6F cp:" + key},
		{"refund of cp:" + other, "refund of cp:" + other + " cp:" + key},
		{"cp:" + other, "cp:" + other + " cp:" + key},
		{"cp:", "cp: cp:" + key},
		{"  padded  ", "  padded   cp:" + key},
		{"ends with cp:" + key, "ends with cp:" + key + " cp:" + key},
	}
	for _, c := range cases {
		got := pool.Describe(c.text, key)
		if got != c.want {
			t.Errorf("Describe(%q) = %q, want %q", c.text, got, c.want)
		}
		if k, ok := pool.TokenFromDescription(got); !ok || k != key {
			t.Errorf("token of %q: %q %v, want %s", got, k, ok, key)
		}
		if text := pool.DescriptionText(got); text != c.text {
			t.Errorf("operator text of %q: %q, want %q", got, text, c.text)
		}
	}
	// Descriptions not written by Describe carry no token, whatever cp: they hold.
	for _, d := range []string{"", "cp:" + key + " trailing", "xcp:" + key, "cp:" + strings.ToUpper(key), "cp:" + key[:35]} {
		if k, ok := pool.TokenFromDescription(d); ok {
			t.Errorf("found token %q in %q", k, d)
		}
	}
}

// For any text an operator can write, the token of Describe's description is the key, the
// description fits Alpaca's limit and is valid UTF-8, and a text that fits is kept as written.
func TestDescribePropertyAnyText(t *testing.T) {
	t.Parallel()
	fragment := rapid.OneOf(
		rapid.String(),
		rapid.SampledFrom([]string{"cp:", "cp: ", " cp:", "tcp:", "CP:", "€", "\n", "\t", " ", "/fixtures/status=rejected/fixtures/"}),
		rapid.StringMatching(`cp:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`),
		rapid.StringMatching(`[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`),
		rapid.StringOfN(rapid.RuneFrom(nil, unicode.Han, unicode.Greek), 0, 400, -1),
	)
	rapid.Check(t, func(t *rapid.T) {
		parts := rapid.SliceOfN(fragment, 0, 40).Draw(t, "parts")
		text := strings.Join(parts, "")
		key := pool.JournalKey("s", "d", rapid.Int64Range(1, 1<<62-1).Draw(t, "allocation"), rapid.IntRange(1, 9).Draw(t, "attempt"))
		got := pool.Describe(text, key)
		if k, ok := pool.TokenFromDescription(got); !ok || k != key {
			t.Fatalf("Describe(%q) = %q: token %q %v, want %s", text, got, k, ok, key)
		}
		if len(got) > pool.MaxDescription {
			t.Fatalf("description of %d bytes", len(got))
		}
		if !utf8.ValidString(got) {
			t.Fatalf("description %q is not valid UTF-8", got)
		}
		back := pool.DescriptionText(got)
		if !strings.HasPrefix(text, back) {
			t.Fatalf("operator text %q became %q", text, back)
		}
		if len(text)+len(" cp:")+36 <= pool.MaxDescription && back != text {
			t.Fatalf("operator text %q that fits became %q", text, back)
		}
	})
}

// IsUUID accepts exactly the canonical lowercase form, as a regular expression written apart
// from it says: strings near a UUID (a byte changed, an upper-case digit, a dash moved, one byte
// more or less) as often as any.
func TestIsUUIDIsTheCanonicalForm(t *testing.T) {
	t.Parallel()
	canonical := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	rapid.Check(t, func(t *rapid.T) {
		b := []byte("2dc1c565-b35d-45be-89ba-068a1894b09c")
		for _, i := range rapid.SliceOfN(rapid.IntRange(0, len(b)-1), 0, 3).Draw(t, "at") {
			b[i] = rapid.SampledFrom([]byte("09afAFgG-_ \x00\xff")).Draw(t, "byte")
		}
		s := string(b)
		switch rapid.IntRange(0, 3).Draw(t, "length") {
		case 1:
			s = s[:len(s)-1]
		case 2:
			s += "0"
		case 3:
			s = rapid.String().Draw(t, "any")
		}
		if got, want := pool.IsUUID(s), canonical.MatchString(s); got != want {
			t.Fatalf("IsUUID(%q) = %v, want %v", s, got, want)
		}
	})
}
