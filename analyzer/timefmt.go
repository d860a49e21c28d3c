package analyzer

import (
	"encoding/binary"
	"time"
)

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
	// Two digits at a time from a table (a division by 10 for every digit would be
	// most of the cost: a report writes three times a connection), each pair one
	// 16-bit store into an array appended at once (appending byte by byte checks
	// the room at each).
	hh, mm, ss := secOfDay/3600, secOfDay%3600/60, secOfDay%60
	var t0 [32]byte
	le := binary.LittleEndian
	le.PutUint16(t0[0:], digits2[(year/100)&127])
	le.PutUint16(t0[2:], digits2[(year%100)&127])
	t0[4] = '-'
	le.PutUint16(t0[5:], digits2[month&127])
	t0[7] = '-'
	le.PutUint16(t0[8:], digits2[day&127])
	t0[10] = 'T'
	le.PutUint16(t0[11:], digits2[hh&127])
	t0[13] = ':'
	le.PutUint16(t0[14:], digits2[mm&127])
	t0[16] = ':'
	le.PutUint16(t0[17:], digits2[ss&127])
	n := 19
	if ns := uint64(t.Nanosecond()); ns != 0 {
		// RFC3339Nano: the fraction without its trailing zeros.
		t0[19] = '.'
		le.PutUint16(t0[20:], digits2[(ns/10000000)&127])
		le.PutUint16(t0[22:], digits2[(ns/100000%100)&127])
		le.PutUint16(t0[24:], digits2[(ns/1000%100)&127])
		le.PutUint16(t0[26:], digits2[(ns/10%100)&127])
		t0[28] = byte('0' + ns%10)
		n = 29
		for t0[n-1] == '0' {
			n--
		}
	}
	t0[n] = 'Z'
	return append(b, t0[:n+1]...), true
}
