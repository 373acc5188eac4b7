package fedcal_test

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cashpool/cashpool/bank/fedcal"
)

// fedHolidays is the Fed's published holiday list for 2025–2028, written out by hand from its rules:
// a Sunday holiday is listed on the Monday after, a Saturday holiday on the Saturday itself.
var fedHolidays = map[string]string{
	"2025-01-01": "New Year's Day",
	"2025-01-20": "Birthday of Martin Luther King, Jr.",
	"2025-02-17": "Washington's Birthday",
	"2025-05-26": "Memorial Day",
	"2025-06-19": "Juneteenth National Independence Day",
	"2025-07-04": "Independence Day",
	"2025-09-01": "Labor Day",
	"2025-10-13": "Columbus Day",
	"2025-11-11": "Veterans Day",
	"2025-11-27": "Thanksgiving Day",
	"2025-12-25": "Christmas Day",

	"2026-01-01": "New Year's Day",
	"2026-01-19": "Birthday of Martin Luther King, Jr.",
	"2026-02-16": "Washington's Birthday",
	"2026-05-25": "Memorial Day",
	"2026-06-19": "Juneteenth National Independence Day",
	"2026-07-04": "Independence Day", // a Saturday: open Friday 3 July
	"2026-09-07": "Labor Day",
	"2026-10-12": "Columbus Day",
	"2026-11-11": "Veterans Day",
	"2026-11-26": "Thanksgiving Day",
	"2026-12-25": "Christmas Day",

	"2027-01-01": "New Year's Day",
	"2027-01-18": "Birthday of Martin Luther King, Jr.",
	"2027-02-15": "Washington's Birthday",
	"2027-05-31": "Memorial Day",
	"2027-06-19": "Juneteenth National Independence Day", // a Saturday: open Friday 18 June
	"2027-07-05": "Independence Day",                     // the 4th is a Sunday
	"2027-09-06": "Labor Day",
	"2027-10-11": "Columbus Day",
	"2027-11-11": "Veterans Day",
	"2027-11-25": "Thanksgiving Day",
	"2027-12-25": "Christmas Day", // a Saturday: open Friday 24 December

	"2028-01-01": "New Year's Day", // a Saturday: open Friday 31 December 2027
	"2028-01-17": "Birthday of Martin Luther King, Jr.",
	"2028-02-21": "Washington's Birthday",
	"2028-05-29": "Memorial Day",
	"2028-06-19": "Juneteenth National Independence Day",
	"2028-07-04": "Independence Day",
	"2028-09-04": "Labor Day",
	"2028-10-09": "Columbus Day",
	"2028-11-11": "Veterans Day", // a Saturday: open Friday 10 November
	"2028-11-23": "Thanksgiving Day",
	"2028-12-25": "Christmas Day",
}

func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Every day of 2025–2028 is a holiday exactly when the Fed lists it, and a business day exactly
// when it is a weekday the Fed does not list.
func TestFedHolidays2025To2028(t *testing.T) {
	t.Parallel()
	for d := date(t, "2025-01-01"); d.Year() <= 2028; d = d.AddDate(0, 0, 1) {
		key := d.Format(time.DateOnly)
		want, listed := fedHolidays[key]
		got, ok := fedcal.Holiday(d)
		if ok != listed || got != want {
			t.Errorf("Holiday(%s) = %q, %v; want %q, %v", key, got, ok, want, listed)
		}
		weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
		if business := fedcal.IsBusinessDay(d); business != (!weekend && !listed) {
			t.Errorf("IsBusinessDay(%s) = %v", key, business)
		}
	}
}

// The general US calendars move a Saturday holiday to the Friday before; the Fed does not, and it
// does move a Sunday holiday to the Monday after.
func TestSaturdayHolidaysAreNotMovedToFriday(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		date     string
		business bool
	}{
		{"2021-06-18", true},  // Juneteenth 2021 on a Saturday
		{"2021-12-31", true},  // New Year's Day 2022 on a Saturday
		{"2026-07-03", true},  // Independence Day 2026 on a Saturday
		{"2027-06-18", true},  // Juneteenth 2027 on a Saturday
		{"2027-12-24", true},  // Christmas 2027 on a Saturday
		{"2027-12-31", true},  // New Year's Day 2028 on a Saturday
		{"2028-11-10", true},  // Veterans Day 2028 on a Saturday
		{"2022-12-26", false}, // Christmas 2022 on a Sunday
		{"2023-01-02", false}, // New Year's Day 2023 on a Sunday
		{"2027-07-05", false}, // Independence Day 2027 on a Sunday
		{"2020-06-19", true},  // before the Fed observed Juneteenth
	} {
		if got := fedcal.IsBusinessDay(date(t, c.date)); got != c.business {
			t.Errorf("IsBusinessDay(%s) = %v, want %v", c.date, got, c.business)
		}
	}
}

func TestNextAndPreviousBusinessDay(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ day, prev, next string }{
		{"2026-11-26", "2026-11-25", "2026-11-27"}, // Thanksgiving: the Friday after is open
		{"2026-11-28", "2026-11-27", "2026-11-30"},
		{"2026-07-04", "2026-07-03", "2026-07-06"},
		{"2027-07-03", "2027-07-02", "2027-07-06"}, // Saturday before the observed Monday
		{"2027-12-25", "2027-12-24", "2027-12-27"},
		{"2028-01-01", "2027-12-31", "2028-01-03"},
		{"2025-12-31", "2025-12-30", "2026-01-02"},
	} {
		if got := fedcal.PreviousBusinessDay(date(t, c.day)).Format(time.DateOnly); got != c.prev {
			t.Errorf("PreviousBusinessDay(%s) = %s, want %s", c.day, got, c.prev)
		}
		if got := fedcal.NextBusinessDay(date(t, c.day)).Format(time.DateOnly); got != c.next {
			t.Errorf("NextBusinessDay(%s) = %s, want %s", c.day, got, c.next)
		}
	}
	// The date is the one in the time's own location: late evening in New York is still that day.
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	evening := time.Date(2026, 11, 25, 22, 0, 0, 0, ny) // already the 26th in UTC
	if !fedcal.IsBusinessDay(evening) {
		t.Error("22:00 in New York on 2026-11-25 taken as Thanksgiving")
	}
	if next := fedcal.NextBusinessDay(evening); !next.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, ny)) {
		t.Errorf("NextBusinessDay(%s) = %s, want midnight 2026-11-27 in New York", evening, next)
	}
}

func TestCalendarProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		d := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rapid.IntRange(0, 365*100).Draw(t, "day"))
		if wd := d.Weekday(); (wd == time.Saturday || wd == time.Sunday) && fedcal.IsBusinessDay(d) {
			t.Fatalf("%s, a %s, is a business day", d.Format(time.DateOnly), wd)
		}
		if _, ok := fedcal.Holiday(d); ok && fedcal.IsBusinessDay(d) {
			t.Fatalf("holiday %s is a business day", d.Format(time.DateOnly))
		}
		next, prev := fedcal.NextBusinessDay(d), fedcal.PreviousBusinessDay(d)
		if !next.After(d) || !prev.Before(d) || !fedcal.IsBusinessDay(next) || !fedcal.IsBusinessDay(prev) {
			t.Fatalf("around %s: previous %s, next %s", d.Format(time.DateOnly), prev, next)
		}
		// Nothing between them is a business day except, possibly, d itself.
		for x := prev.AddDate(0, 0, 1); x.Before(next); x = x.AddDate(0, 0, 1) {
			if !x.Equal(d) && fedcal.IsBusinessDay(x) {
				t.Fatalf("business day %s skipped between %s and %s", x.Format(time.DateOnly), prev, next)
			}
		}
		if !fedcal.NextBusinessDay(prev).Equal(next) && !fedcal.IsBusinessDay(d) {
			t.Fatalf("next of previous of non-business day %s is %s, want %s", d.Format(time.DateOnly), fedcal.NextBusinessDay(prev), next)
		}
		if fedcal.IsBusinessDay(d) && (!fedcal.NextBusinessDay(prev).Equal(d) || !fedcal.PreviousBusinessDay(next).Equal(d)) {
			t.Fatalf("successor and predecessor not inverse at %s", d.Format(time.DateOnly))
		}
	})
}
