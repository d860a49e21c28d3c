package analyzer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// refMS is ms as it was written with fmt: the reference for appendMS.
func refMS(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}

// TestAppendf: the messages appendf writes are fmt.Sprintf's with the same format
// and arguments; so are those of analysis.sprintf, in the arena.
func TestAppendf(t *testing.T) {
	var a analysis
	for _, tc := range []struct {
		format  string
		args    []arg
		fmtArgs []any
	}{
		{"", nil, nil},
		{"no verb", nil, nil},
		{"%s's FIN (frame %d)", []arg{str("client"), num(uint64(123456789))}, []any{"client", uint64(123456789)}},
		{"%d..%d, %d", []arg{num(uint16(65535)), num(uint8(0)), num(-42)}, []any{uint16(65535), uint8(0), -42}},
		{"%d %d", []arg{num(int64(math.MinInt64)), num(uint64(math.MaxUint64))}, []any{int64(math.MinInt64), uint64(math.MaxUint64)}},
		{"µs é %s%s", []arg{str(""), str("→")}, []any{"", "→"}},
		{"ends with %d", []arg{num(uint32(7))}, []any{uint32(7)}},
	} {
		want := fmt.Sprintf(tc.format, tc.fmtArgs...)
		if got := string(appendf([]byte("x"), tc.format, tc.args...)); got != "x"+want {
			t.Errorf("appendf(%q) = %q, want %q", tc.format, got, "x"+want)
		}
		if got := a.sprintf(tc.format, tc.args...); got != want {
			t.Errorf("sprintf(%q) = %q, want %q", tc.format, got, want)
		}
	}
	if got, want := a.sprintf("%s after %s", dur(1500e6), dur(999)), refMS(1500e6)+" after "+refMS(999); got != want {
		t.Errorf("durations: %q, want %q", got, want)
	}
}

// TestAppendMS: appendMS writes what fmt wrote, around each unit's bounds and at
// random.
func TestAppendMS(t *testing.T) {
	ns := []int64{0, 1, 999, 1000, 1499, 1500, 999_999, 1_000_000, 1_049_999, 1_050_000, 1_250_000,
		999_949_999, 999_950_000, 999_999_999, 1e9, 1_000_499_999, 1_000_500_000, 1_234_567_890, 59e9,
		-1, -999, -1000, -1e6, -1e9, math.MaxInt64, math.MinInt64}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		ns = append(ns, r.Int64N(1<<uint(r.IntN(63))), -r.Int64N(1e9))
	}
	for _, n := range ns {
		if got, want := string(appendMS(nil, time.Duration(n))), refMS(n); got != want {
			t.Fatalf("appendMS(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestAppendTime: AppendTime writes what AppendFormat(time.RFC3339Nano) writes, for
// every UTC time of the years 0-9999, and leaves the others to it.
func TestAppendTime(t *testing.T) {
	const (
		year0     = -62167219200
		year10000 = 253402300800
	)
	times := []time.Time{time.Unix(year0, 0), time.Unix(year0-1, 999999999), time.Unix(year10000-1, 999999999),
		time.Unix(year10000, 0), time.Unix(0, 0), time.Unix(951782400, 0) /* 2000-02-29 */, time.Unix(-1, 1)}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		sec := year0 - 86400 + r.Int64N(year10000-year0+2*86400)
		nsec := []int64{0, r.Int64N(1000) * 1e6, r.Int64N(1e6) * 1e3, r.Int64N(1e9)}[r.IntN(4)]
		times = append(times, time.Unix(sec, nsec), time.Unix(1700000000+r.Int64N(1e8), nsec))
	}
	for _, tm := range times {
		for _, tm := range []time.Time{tm.UTC(), tm.In(time.FixedZone("", 0)), tm.Local()} {
			want := tm.AppendFormat([]byte("x"), time.RFC3339Nano)
			inRange := tm.Location() == time.UTC && tm.Year() >= 0 && tm.Year() <= 9999
			got, ok := AppendTime([]byte("x"), tm)
			switch {
			case ok != inRange:
				t.Fatalf("AppendTime(%v): ok %v, want %v", tm, ok, inRange)
			case ok && string(got) != string(want):
				t.Fatalf("AppendTime(%v) = %s, want %s", tm, got, want)
			case !ok && string(got) != "x":
				t.Fatalf("AppendTime(%v) changed b: %s", tm, got)
			}
			if got := appendRFC3339([]byte("x"), tm); string(got) != string(want) {
				t.Fatalf("appendRFC3339(%v) = %s, want %s", tm, got, want)
			}
		}
	}
}
