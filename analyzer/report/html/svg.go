package html

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Charts are drawn here as SVG, by hand: axes with ticks and labels, one element
// per point or bar carrying its value in a <title> (the browser shows it on hover,
// script or not) and in data-tip (page.js shows it beside the pointer).

// Chart geometry, in SVG user units.
const (
	chartW   = 960
	chartH   = 280
	marginL  = 64
	marginR  = 190 // the legend
	marginT  = 16
	marginB  = 44
	plotW    = chartW - marginL - marginR
	plotH    = chartH - marginT - marginB
	barRowH  = 22
	barLabel = 300 // horizontal bars: the label column
)

// palette: one colour per series, in order (colour-blind safe, Okabe-Ito).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#999999", "#882255"}

func colour(i int) string { return palette[i%len(palette)] }

func esc(s string) string { return template.HTMLEscapeString(s) }

// niceStep is a round tick step (1, 2 or 5 times a power of ten) giving about n
// ticks over span.
func niceStep(span float64, n int) float64 {
	if span <= 0 || n <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// ticks are the round values from 0 (or lo) to hi.
func ticks(lo, hi float64, n int) []float64 {
	step := niceStep(hi-lo, n)
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

// num renders a value for a tick or a tip: integers without decimals.
func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// axisTop is the round value the y axis ends at: the first tick at or above v (at
// least 1).
func axisTop(v float64) float64 {
	if v <= 1 {
		return 1
	}
	tk := ticks(0, v, 5)
	if last := tk[len(tk)-1]; last < v {
		return last + niceStep(v, 5)
	}
	return tk[len(tk)-1]
}

// svgBuilder collects one chart's markup.
type svgBuilder struct{ strings.Builder }

func (b *svgBuilder) f(format string, a ...any) { fmt.Fprintf(&b.Builder, format, a...) }

// open starts an SVG of the given height with an accessible title.
func (b *svgBuilder) open(id, title string, h int) {
	b.f(`<svg class="chart" id="%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		esc(id), chartW, h, chartW, h, esc(title))
}

// axes draws the frame, the ticks and the axis labels of an x/y plot over
// [x0, x1] × [0, y1].
func (b *svgBuilder) axes(x0, x1, y1 float64, xLabel, yLabel string) {
	b.f(`<g class="axes">`)
	b.f(`<line x1="%d" y1="%d" x2="%d" y2="%d"/>`, marginL, marginT+plotH, marginL+plotW, marginT+plotH)
	b.f(`<line x1="%d" y1="%d" x2="%d" y2="%d"/>`, marginL, marginT, marginL, marginT+plotH)
	for _, v := range ticks(x0, x1, 8) {
		x := sx(v, x0, x1)
		b.f(`<line class="tick" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/><text class="xt" x="%.1f" y="%d">%s</text>`,
			x, marginT+plotH, x, marginT+plotH+4, x, marginT+plotH+16, num(v))
	}
	for _, v := range ticks(0, y1, 5) {
		y := sy(v, y1)
		b.f(`<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/><text class="yt" x="%d" y="%.1f">%s</text>`,
			marginL, y, marginL+plotW, y, marginL-6, y+4, num(v))
	}
	b.f(`<text class="xl" x="%d" y="%d">%s</text>`, marginL+plotW/2, chartH-6, esc(xLabel))
	b.f(`<text class="yl" transform="translate(14 %d) rotate(-90)">%s</text>`, marginT+plotH/2, esc(yLabel))
	b.f(`</g>`)
}

func sx(v, x0, x1 float64) float64 {
	if x1 <= x0 {
		return marginL
	}
	return marginL + (v-x0)/(x1-x0)*plotW
}

func sy(v, y1 float64) float64 {
	if y1 <= 0 {
		return marginT + plotH
	}
	return marginT + plotH - v/y1*plotH
}

// legend lists the series names at the right of the plot.
func (b *svgBuilder) legend(names []string) {
	for i, n := range names {
		y := marginT + 6 + i*18
		b.f(`<g class="legend"><rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text></g>`,
			marginL+plotW+12, y, colour(i), marginL+plotW+30, y+10, esc(n))
	}
}

// stepSeries is one line of a step chart: its points (x, y), each y holding until
// the next x.
type stepSeries struct {
	Name   string
	X, Y   []float64
	Tips   []string
	Series string // data-series
}

// stepChart draws step lines with a dot per point.
func stepChart(id, title, xLabel, yLabel string, x0, x1 float64, series []stepSeries) template.HTML {
	var b svgBuilder
	b.open(id, title, chartH)
	y1 := 1.0
	for _, s := range series {
		for _, y := range s.Y {
			y1 = math.Max(y1, y)
		}
	}
	y1 = axisTop(y1)
	b.axes(x0, x1, y1, xLabel, yLabel)
	names := make([]string, len(series))
	for i, s := range series {
		names[i] = s.Name
		var pts strings.Builder
		for j := range s.X {
			x, y := sx(s.X[j], x0, x1), sy(s.Y[j], y1)
			if j > 0 {
				fmt.Fprintf(&pts, "%.1f,%.1f ", x, sy(s.Y[j-1], y1))
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
		}
		b.f(`<g class="series" data-series="%s"><polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, esc(s.Series), colour(i), strings.TrimSpace(pts.String()))
		for j := range s.X {
			b.f(`<circle class="pt" cx="%.1f" cy="%.1f" r="2.5" fill="%s" data-x="%s" data-y="%s" data-tip="%s"><title>%s</title></circle>`,
				sx(s.X[j], x0, x1), sy(s.Y[j], y1), colour(i), strconv.FormatFloat(s.X[j], 'f', 6, 64), num(s.Y[j]), esc(s.Tips[j]), esc(s.Tips[j]))
		}
		b.f(`</g>`)
	}
	b.legend(names)
	b.f(`</svg>`)
	return template.HTML(b.String())
}

// stackBucket is one column of a stacked bar chart: [X0, X1) and a value per layer.
type stackBucket struct {
	X0, X1 float64
	Values []float64 // per layer, in layer order
	Counts []int     // per layer: what the tip says
	Label  string    // the span, for the tip
}

// stackedBars draws a column per bucket, its layers stacked in order.
func stackedBars(id, title, xLabel, yLabel string, x0, x1 float64, layers []string, unit string, buckets []stackBucket) template.HTML {
	var b svgBuilder
	b.open(id, title, chartH)
	y1 := 0.0
	for _, k := range buckets {
		t := 0.0
		for _, v := range k.Values {
			t += v
		}
		y1 = math.Max(y1, t)
	}
	y1 = axisTop(y1)
	b.axes(x0, x1, y1, xLabel, yLabel)
	for _, k := range buckets {
		xa, xb := sx(k.X0, x0, x1), sx(k.X1, x0, x1)
		w := math.Max(xb-xa-1, 1)
		base := 0.0
		for li, v := range k.Values {
			if v <= 0 {
				continue
			}
			ya, yb := sy(base+v, y1), sy(base, y1)
			tip := fmt.Sprintf("%s: %s %d (%s %s)", k.Label, layers[li], k.Counts[li], num(round3(v)), unit)
			b.f(`<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" data-layer="%s" data-count="%d" data-tip="%s"><title>%s</title></rect>`,
				xa, ya, w, math.Max(yb-ya, 0.5), colour(li), esc(layers[li]), k.Counts[li], esc(tip), esc(tip))
			base += v
		}
	}
	// The legend names the layers drawn.
	var drawn []string
	var idx []int
	for li, name := range layers {
		for _, k := range buckets {
			if k.Counts[li] > 0 {
				drawn = append(drawn, name)
				idx = append(idx, li)
				break
			}
		}
	}
	for i, n := range drawn {
		y := marginT + 6 + i*18
		b.f(`<g class="legend"><rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text></g>`,
			marginL+plotW+12, y, colour(idx[i]), marginL+plotW+30, y+10, esc(n))
	}
	b.f(`</svg>`)
	return template.HTML(b.String())
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// hbar is one row of a horizontal bar chart: a label and its layers.
type hbar struct {
	Label  string
	Values []int // per layer
	Tip    string
	Flag   bool // drawn in the alarm colour
	Max    int  // a mark at this value (0: none), e.g. the port range
}

// hbars draws one horizontal bar per row, its layers side by side, scaled to the
// largest total (or to max, when larger).
func hbars(id, title, xLabel string, layers []string, rows []hbar) template.HTML {
	return hbarsColoured(id, title, xLabel, layers, rows, colour)
}

// hbarsColoured is hbars with each layer's colour chosen by colourOf.
func hbarsColoured(id, title, xLabel string, layers []string, rows []hbar, colourOf func(int) string) template.HTML {
	var b svgBuilder
	h := marginT + len(rows)*barRowH + marginB
	b.open(id, title, h)
	top := 1
	for _, r := range rows {
		t := 0
		for _, v := range r.Values {
			t += v
		}
		top = max(top, t)
	}
	w := float64(chartW - barLabel - 170)
	scale := func(v int) float64 { return float64(v) / float64(top) * w }
	for i, r := range rows {
		y := marginT + i*barRowH
		total := 0
		for _, v := range r.Values {
			total += v
		}
		b.f(`<g class="hbar" data-label="%s" data-total="%d" data-tip="%s"><title>%s</title>`, esc(r.Label), total, esc(r.Tip), esc(r.Tip))
		b.f(`<text class="hl" x="%d" y="%d">%s</text>`, barLabel-8, y+15, esc(r.Label))
		x := float64(barLabel)
		for li, v := range r.Values {
			if v == 0 {
				continue
			}
			fill := colourOf(li)
			if r.Flag {
				fill = "#D55E00"
			}
			b.f(`<rect class="bar" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" data-layer="%s" data-count="%d"/>`,
				x, y+3, math.Max(scale(v), 1), barRowH-6, fill, esc(layers[li]), v)
			x += scale(v)
		}
		b.f(`<text class="hv" x="%.1f" y="%d">%d</text></g>`, x+6, y+15, total)
	}
	b.f(`<g class="axes"><line x1="%d" y1="%d" x2="%d" y2="%d"/>`, barLabel, marginT+len(rows)*barRowH, barLabel+int(w), marginT+len(rows)*barRowH)
	for _, v := range ticks(0, float64(top), 6) {
		x := float64(barLabel) + v/float64(top)*w
		b.f(`<line class="tick" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/><text class="xt" x="%.1f" y="%d">%s</text>`,
			x, marginT+len(rows)*barRowH, x, marginT+len(rows)*barRowH+4, x, marginT+len(rows)*barRowH+16, num(v))
	}
	b.f(`<text class="xl" x="%d" y="%d">%s</text></g>`, barLabel+int(w)/2, h-6, esc(xLabel))
	if len(layers) > 1 {
		b.legendAt(layers, barLabel+int(w)+48, colourOf)
	}
	b.f(`</svg>`)
	return template.HTML(b.String())
}

func (b *svgBuilder) legendAt(names []string, x int, colourOf func(int) string) {
	for i, n := range names {
		y := marginT + i*18
		b.f(`<g class="legend"><rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text></g>`,
			x, y, colourOf(i), x+18, y+10, esc(n))
	}
}
