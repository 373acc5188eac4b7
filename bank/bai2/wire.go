package bai2

import (
	"regexp"
	"strings"
)

// Originator is what a bank's wire text says about who sent the money. BAI2 text is free-form and
// bank-specific: these are best-effort readings of common keywords, the raw text stays on the entry,
// and an empty Name or Account sends the receipt to review.
type Originator struct {
	Name    string
	Account string
	Bank    string
	Address string
	Info    string // originator-to-beneficiary information (OBI)
}

// keywords that open a part of a wire text; each part runs to the next keyword.
var keywordRE = regexp.MustCompile(`(?:^|\s)(FEDWIRE CREDIT VIA:|BOOK TRANSFER CREDIT VIA:|VIA:|B/O:|REF:|ORG=|BNF=|BNF:|BNF BK:|SND BK=|SND BK:|OBI=|RFB=|IMAD:|TRN:|UETR:)`)

var (
	uetrRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`)
	imadRE = regexp.MustCompile(`^(?:[0-9]{4}|[0-9]{8})[A-Z0-9]{8}[0-9]{6}$`)
	orgRE  = regexp.MustCompile(`^/?([0-9A-Z-]+)\s+(.*)$`)
)

func wireFields(text string) (o Originator, uetr, imad string) {
	parts := map[string]string{}
	locs := keywordRE.FindAllStringSubmatchIndex(text, -1)
	for i, l := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		key := text[l[2]:l[3]]
		if _, dup := parts[key]; !dup {
			parts[key] = strings.TrimSpace(text[l[3]:end])
		}
	}
	o.Bank = first(parts, "FEDWIRE CREDIT VIA:", "BOOK TRANSFER CREDIT VIA:", "VIA:", "SND BK=", "SND BK:")
	o.Info = parts["OBI="]
	bo := parts["B/O:"]
	o.Name = bo
	if m := orgRE.FindStringSubmatch(parts["ORG="]); m != nil {
		o.Account, o.Name = m[1], m[2]
	}
	if o.Name != bo && strings.HasPrefix(bo, o.Name+" ") {
		o.Address = strings.TrimSpace(bo[len(o.Name):])
	}
	if v := parts["UETR:"]; uetrRE.MatchString(v) {
		uetr = strings.ToLower(v)
	}
	if v := parts["IMAD:"]; imadRE.MatchString(v) {
		imad = v
	}
	return o, uetr, imad
}

func first(parts map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := parts[k]; v != "" {
			return v
		}
	}
	return ""
}
