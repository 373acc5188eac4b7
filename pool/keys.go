package pool

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// JournalKey is the deterministic identity of one journal intent: the allocation allocationID (its
// id in the allocations table, given once when its file is loaded) funded by the run of
// (sweepAccount, businessDate) at attempt. The same allocation in the same run and attempt always
// gets the same key, across crashes and restarts. It travels to Alpaca inside the journal's
// description (see KeyToken) so a journal can be matched back to its intent even when Alpaca's
// answer was lost.
//
// Its first 16 bits are the business date (days since 2000-01-01), its next 44 are derived (SHA-256)
// from the sweep account, date and attempt, and its last 62 are the allocation's id: a night's keys
// follow the order its allocations were loaded in, after every earlier night's, so plan writes them
// next to each other at the end of the keys' unique index instead of at a random place in it (a page
// read and, often, split for each journal).
func JournalKey(sweepAccount, businessDate string, allocationID int64, attempt int) string {
	return NightKeys(sweepAccount, businessDate, attempt).Of(allocationID)
}

// JournalKeys makes the keys of one night's journals at one attempt (JournalKey), their shared
// first 64 bits computed once: plan keys a million journals a night.
type JournalKeys struct{ head [8]byte }

// NightKeys is JournalKeys for the run of (sweepAccount, businessDate) at attempt.
func NightKeys(sweepAccount, businessDate string, attempt int) JournalKeys {
	sum := digest("journal", sweepAccount, businessDate, strconv.Itoa(attempt))
	var k JournalKeys
	binary.BigEndian.PutUint16(k.head[:2], keyDay(businessDate))
	copy(k.head[2:8], sum[:6])
	return k
}

// Of is the key of the journal of allocation allocationID.
func (k JournalKeys) Of(allocationID int64) string {
	var b [16]byte
	copy(b[:8], k.head[:])
	binary.BigEndian.PutUint64(b[8:], uint64(allocationID))
	return uuidText(b[:])
}

// keyDay is the business date's day since 2000-01-01 (0 for a date before it or not a date: the
// hash of the date that follows it in the key still tells such dates apart).
func keyDay(date string) uint16 {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return 0
	}
	days := d.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Hours() / 24
	return uint16(min(max(days, 0), 65535))
}

// BatchKey is the Idempotency-Key of one batch: derived from the run, the batch's place in it and
// the exact bytes of its body, so a resend of the same body always carries the same key and a
// different body can never reuse it.
func BatchKey(sweepAccount, businessDate, seq string, body []byte) string {
	sum := sha256.Sum256(body)
	return uuidFrom("batch", sweepAccount, businessDate, seq, hex.EncodeToString(sum[:]))
}

// KeyToken is the marker put at the end of a journal's description: "cp:<journal key>".
func KeyToken(journalKey string) string { return "cp:" + journalKey }

// tokenLen is the length of a key token: "cp:" and a 36-character UUID.
const tokenLen = 3 + 36

// TokenFromDescription finds the journal key in a description written by Describe. Only the final
// token counts: the operator's text before it may hold anything, "cp:" and UUIDs included.
func TokenFromDescription(desc string) (string, bool) {
	if len(desc) < tokenLen {
		return "", false
	}
	at := len(desc) - tokenLen
	if at > 0 && desc[at-1] != ' ' {
		return "", false
	}
	if desc[at:at+3] != "cp:" || !IsUUID(desc[at+3:]) {
		return "", false
	}
	return desc[at+3:], true
}

// DescriptionText is the operator's text of a description written by Describe: the description
// without its final token (and the space before it).
func DescriptionText(desc string) string {
	if _, ok := TokenFromDescription(desc); !ok {
		return desc
	}
	return strings.TrimSuffix(desc[:len(desc)-tokenLen], " ")
}

// uuidFrom hashes its parts into a UUID (version 8, RFC 9562: vendor-defined, here SHA-256).
// Parts are length-prefixed so ("ab","c") and ("a","bc") differ.
func uuidFrom(parts ...string) string {
	sum := digest(parts...)
	return uuidText(sum[:16])
}

// digest is the SHA-256 of parts, each written with its length so that no two lists of parts
// read alike.
func digest(parts ...string) [32]byte {
	var in []byte
	for _, p := range parts {
		in = strconv.AppendInt(in, int64(len(p)), 10)
		in = append(in, ':')
		in = append(in, p...)
		in = append(in, ';')
	}
	return sha256.Sum256(in)
}

// uuidText writes b (16 bytes) as a version 8 UUID with RFC 9562's variant, overwriting the 6 bits
// those take (a JournalKey's allocation id keeps its 62 low bits).
func uuidText(b []byte) string {
	b[6] = (b[6] & 0x0f) | 0x80 // version 8
	b[8] = (b[8] & 0x3f) | 0x80 // RFC 9562 variant
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// IsUUID reports whether s is a UUID in canonical lowercase form. Tracking asks it of every
// stream event (its journal id and its description's token, three million a million-journal
// night), so it reads a table, not a switch per byte.
func IsUUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	for _, g := range [...][2]int{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}} {
		for i := g[0]; i < g[1]; i++ {
			if !lowerHex[s[i]] {
				return false
			}
		}
	}
	return true
}

// lowerHex marks the bytes a canonical UUID's digits are written in: 0-9 and a-f.
var lowerHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()

// MaxDescription is Alpaca's limit on a journal description, in bytes.
const MaxDescription = 1024

// Describe is the description a journal is sent with: the operator's text as written, then a
// space and the token of journalKey, always last, so TokenFromDescription reads it whatever the
// text holds. Text too long for Alpaca's limit is shortened at a character boundary, never cutting
// a multi-byte character in half.
func Describe(text, journalKey string) string {
	token := KeyToken(journalKey)
	if text == "" {
		return token
	}
	if room := MaxDescription - len(token) - 1; len(text) > room {
		cut := room
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	return text + " " + token
}
