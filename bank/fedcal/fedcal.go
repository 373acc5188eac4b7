// Package fedcal is the Federal Reserve's business calendar: the days Fedwire, and so the firm's
// wires, move. It is built from the Fed's own holiday definitions and its one observance rule: a
// holiday on a Sunday is observed the Monday after; a holiday on a Saturday is not moved (the Fed
// is open the Friday before). That rule is why the general US calendars, which move a Saturday
// holiday to Friday, are not used.
//
// A date is the calendar date of a time.Time in its own location; the clock time is ignored.
package fedcal

import "time"

// holidayRule gives a holiday's date in a year, before the Sunday observance.
type holidayRule struct {
	name  string
	since int // the first year the Fed observes it
	date  func(year int) time.Time
}

// rules are the Fed's eleven holidays.
var rules = []holidayRule{
	{"New Year's Day", 0, fixed(time.January, 1)},
	{"Birthday of Martin Luther King, Jr.", 0, nthWeekday(time.January, time.Monday, 3)},
	{"Washington's Birthday", 0, nthWeekday(time.February, time.Monday, 3)},
	{"Memorial Day", 0, lastWeekday(time.May, time.Monday)},
	{"Juneteenth National Independence Day", 2021, fixed(time.June, 19)},
	{"Independence Day", 0, fixed(time.July, 4)},
	{"Labor Day", 0, nthWeekday(time.September, time.Monday, 1)},
	{"Columbus Day", 0, nthWeekday(time.October, time.Monday, 2)},
	{"Veterans Day", 0, fixed(time.November, 11)},
	{"Thanksgiving Day", 0, nthWeekday(time.November, time.Thursday, 4)},
	{"Christmas Day", 0, fixed(time.December, 25)},
}

func fixed(m time.Month, day int) func(int) time.Time {
	return func(y int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
}

// nthWeekday is the n-th wd of month m.
func nthWeekday(m time.Month, wd time.Weekday, n int) func(int) time.Time {
	return func(y int) time.Time {
		first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return first.AddDate(0, 0, (int(wd)-int(first.Weekday())+7)%7+7*(n-1))
	}
}

// lastWeekday is the last wd of month m.
func lastWeekday(m time.Month, wd time.Weekday) func(int) time.Time {
	return func(y int) time.Time {
		last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC)
		return last.AddDate(0, 0, -((int(last.Weekday()) - int(wd) + 7) % 7))
	}
}

// civil is d's calendar date at midnight UTC, the form every comparison here uses.
func civil(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

// Holiday names the Fed holiday d is, as the Fed lists it: the holiday's own date, or the Monday
// after when it falls on a Sunday. A holiday on a Saturday is that Saturday; the Friday before is a
// business day.
func Holiday(d time.Time) (string, bool) {
	day := civil(d)
	for _, r := range rules {
		if day.Year() < r.since {
			continue
		}
		h := r.date(day.Year())
		if h.Weekday() == time.Sunday {
			h = h.AddDate(0, 0, 1)
		}
		if h.Equal(day) {
			return r.name, true
		}
	}
	return "", false
}

// IsBusinessDay reports whether the Fed is open on d: a weekday that is not a Fed holiday.
func IsBusinessDay(d time.Time) bool {
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	_, holiday := Holiday(d)
	return !holiday
}

// NextBusinessDay is the first business day after d, at midnight in d's location.
func NextBusinessDay(d time.Time) time.Time {
	return step(d, 1)
}

// PreviousBusinessDay is the last business day before d, at midnight in d's location.
func PreviousBusinessDay(d time.Time) time.Time {
	return step(d, -1)
}

func step(d time.Time, by int) time.Time {
	day := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, d.Location())
	for {
		day = day.AddDate(0, 0, by)
		if IsBusinessDay(day) {
			return day
		}
	}
}
