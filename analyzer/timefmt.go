package analyzer

import "time"

// appendRFC3339 appends t as t.AppendFormat(b, time.RFC3339Nano) does.
func appendRFC3339(b []byte, t time.Time) []byte {
	if b, ok := AppendTime(b, t); ok {
		return b
	}
	return t.AppendFormat(b, time.RFC3339Nano)
}

// AppendTime appends t as t.AppendFormat(b, time.RFC3339Nano) does, when t is in
// UTC (every time of a report) and of the years 0-9999; ok is false otherwise, and b
// as it was. time.Time's formatting is general, and costly next to the rest of
// encoding a connection record.
func AppendTime(b []byte, t time.Time) (_ []byte, ok bool) {
	const (
		year0     = -62167219200 // 0000-01-01T00:00:00Z, Unix seconds
		year10000 = 253402300800 // 10000-01-01T00:00:00Z
		// Days from 0000-03-01 to 1970-01-01: the calendar below counts from a
		// March 1st, so that February, and its leap day, ends the year.
		days0 = 719468
	)
	sec := t.Unix()
	if t.Location() != time.UTC || sec < year0 || sec >= year10000 {
		return b, false
	}
	// The civil date of a day number (the algorithm of Howard Hinnant's
	// chrono-Compatible Low-Level Date Algorithms, civil_from_days), shifted by an
	// era of 400 years (146097 days) so that January and February of the year 0 are
	// not negative; unsigned, for the cheaper division by constants.
	u := uint64(sec - year0)
	days := u/86400 + (year0/86400 + days0 + 146097)
	secOfDay := u % 86400
	era := days / 146097
	doe := days - era*146097                               // day of the era, [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of the era, [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of the year from March 1st
	mp := (5*doy + 2) / 153                                // month from March, [0, 11]
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	year := yoe + (era-1)*400
	if month <= 2 {
		year++
	}
	// Two digits at a time from a table: the divisions by 10 of every digit were
	// most of the cost (a report writes three times a connection).
	hh, mm, ss := secOfDay/3600, secOfDay%3600/60, secOfDay%60
	b = append(b, pairs[2*(year/100)], pairs[2*(year/100)+1], pairs[2*(year%100)], pairs[2*(year%100)+1], '-',
		pairs[2*month], pairs[2*month+1], '-', pairs[2*day], pairs[2*day+1], 'T',
		pairs[2*hh], pairs[2*hh+1], ':', pairs[2*mm], pairs[2*mm+1], ':', pairs[2*ss], pairs[2*ss+1])
	if ns := uint64(t.Nanosecond()); ns != 0 {
		// RFC3339Nano: the fraction without its trailing zeros.
		d1, d2, d3, d4 := ns/10000000, ns/100000%100, ns/1000%100, ns/10%100
		frac := [10]byte{'.', pairs[2*d1], pairs[2*d1+1], pairs[2*d2], pairs[2*d2+1],
			pairs[2*d3], pairs[2*d3+1], pairs[2*d4], pairs[2*d4+1], byte('0' + ns%10)}
		n := len(frac)
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z'), true
}

// pairs holds "00" to "99": pairs[2*n], pairs[2*n+1] are the digits of n.
const pairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"
