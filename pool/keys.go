package pool

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// JournalKey is the deterministic identity of one journal intent: the same allocation in the same
// run and attempt always gets the same key, across crashes and restarts. It travels to Alpaca inside
// the journal's description (see KeyToken) so a journal can be matched back to its intent even
// when Alpaca's answer was lost.
func JournalKey(sweepAccount, businessDate, receiptID, clientRef string, attempt int) string {
	return uuidFrom("journal", sweepAccount, businessDate, receiptID, clientRef, fmt.Sprint(attempt))
}

// BatchKey is the Idempotency-Key of one batch: derived from the run, the batch's place in it and
// the exact bytes of its body, so a resend of the same body always carries the same key and a
// different body can never reuse it.
func BatchKey(sweepAccount, businessDate, seq string, body []byte) string {
	sum := sha256.Sum256(body)
	return uuidFrom("batch", sweepAccount, businessDate, seq, hex.EncodeToString(sum[:]))
}

// KeyToken is the marker put in a journal's description: "cp:<journal key>".
func KeyToken(journalKey string) string { return "cp:" + journalKey }

// TokenFromDescription finds the journal key in a description written with KeyToken.
func TokenFromDescription(desc string) (string, bool) {
	i := strings.Index(desc, "cp:")
	if i < 0 || len(desc) < i+3+36 {
		return "", false
	}
	k := desc[i+3 : i+3+36]
	if !IsUUID(k) {
		return "", false
	}
	return k, true
}

// uuidFrom hashes its parts into a UUID (version 8, RFC 9562: vendor-defined, here SHA-256).
// Parts are length-prefixed so ("ab","c") and ("a","bc") differ.
func uuidFrom(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	b := h.Sum(nil)[:16]
	b[6] = (b[6] & 0x0f) | 0x80 // version 8
	b[8] = (b[8] & 0x3f) | 0x80 // RFC 9562 variant
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// IsUUID reports whether s is a UUID in canonical lowercase form.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// MaxDescription is Alpaca's limit on a journal description, in bytes.
const MaxDescription = 1024

// Describe is the description a journal is sent with: text, without any key token an earlier
// attempt put there, then the token of journalKey. Text is shortened to fit Alpaca's limit at a
// character boundary, so a multi-byte character is never cut in half.
func Describe(text, journalKey string) string {
	for {
		k, ok := TokenFromDescription(text)
		if !ok {
			break
		}
		text = strings.Replace(text, KeyToken(k), "", 1)
	}
	text = strings.TrimSpace(text)
	token := KeyToken(journalKey)
	room := MaxDescription - len(token) - 1
	if len(text) > room {
		cut := room
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = strings.TrimSpace(text[:cut])
	}
	if text == "" {
		return token
	}
	return text + " " + token
}
