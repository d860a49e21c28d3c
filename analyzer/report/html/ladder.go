package html

import (
	"fmt"
	"html/template"

	"github.com/finack/finack/analyzer/report"
)

// Ladder geometry: the frame, time and Δ columns, the client's and the server's
// vertical lines, the notes right of the server.
const (
	ladW       = 1100
	ladRowH    = 26
	ladTop     = 50
	ladFrameX  = 48
	ladTimeX   = 130
	ladDeltaX  = 210
	ladClientX = 250
	ladServerX = 690
	ladNotesX  = 704
)

// ladderSVG draws one connection's ladder: a row per segment, an arrow from the
// end that sent it, frames a finding names in the alarm colour.
func ladderSVG(id string, l report.Ladder) template.HTML {
	var b svgBuilder
	h := ladTop + len(l.Lines)*ladRowH + 16
	b.f(`<svg class="ladder" id="%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="ladder of %s to %s" xmlns="http://www.w3.org/2000/svg">`,
		esc(id), ladW, h, ladW, h, esc(l.Client), esc(l.Server))
	b.f(`<text class="lh" x="%d" y="16" text-anchor="end">frame</text><text class="lh" x="%d" y="16" text-anchor="end">time (s)</text><text class="lh" x="%d" y="16" text-anchor="end">Δ</text>`,
		ladFrameX, ladTimeX, ladDeltaX)
	b.f(`<text class="lh" x="%d" y="16">client %s</text><text class="lh" x="%d" y="16" text-anchor="end">server %s</text>`,
		ladClientX+4, esc(l.Client), ladServerX-4, esc(l.Server))
	bottom := h - 8
	b.f(`<line class="life" x1="%d" y1="26" x2="%d" y2="%d"/><line class="life" x1="%d" y1="26" x2="%d" y2="%d"/>`,
		ladClientX, ladClientX, bottom, ladServerX, ladServerX, bottom)
	for i, ln := range l.Lines {
		y := ladTop + i*ladRowH
		if ln.Fold > 0 {
			noted := ""
			if ln.FoldNoted > 0 {
				noted = fmt.Sprintf(" (%d with notes: retransmissions, gaps, dup ACKs)", ln.FoldNoted)
			}
			b.f(`<g class="fold"><text x="%d" y="%d" text-anchor="middle">⋮ %d segment(s) not drawn, frames %d-%d%s</text></g>`,
				(ladClientX+ladServerX)/2, y+4, ln.Fold, ln.FoldFrom, ln.FoldTo, esc(noted))
			continue
		}
		cls := "seg"
		if ln.Evidence {
			cls += " evidence"
		}
		x1, x2 := ladClientX, ladServerX
		if !ln.Right {
			x1, x2 = ladServerX, ladClientX
		}
		tip := fmt.Sprintf("frame %d at %.6f s: %s", ln.Frame, ln.Since.Seconds(), ln.Label)
		if ln.Notes != "" {
			tip += " (" + ln.Notes + ")"
		}
		b.f(`<g class="%s" data-frame="%d" data-tip="%s"><title>%s</title>`, cls, ln.Frame, esc(tip), esc(tip))
		b.f(`<text class="fr" x="%d" y="%d" text-anchor="end">%d</text><text class="tm" x="%d" y="%d" text-anchor="end">%.6f</text><text class="dl" x="%d" y="%d" text-anchor="end">%s</text>`,
			ladFrameX, y+4, ln.Frame, ladTimeX, y+4, ln.Since.Seconds(), ladDeltaX, y+4, esc(ln.Delta))
		b.f(`<line class="arrow" x1="%d" y1="%d" x2="%d" y2="%d" marker-end="url(#arrowhead)"/>`, x1, y, x2, y)
		b.f(`<text class="lbl" x="%d" y="%d" text-anchor="middle">%s</text>`, (ladClientX+ladServerX)/2, y-4, esc(ln.Label))
		if ln.Notes != "" {
			b.f(`<text class="note" x="%d" y="%d">%s</text>`, ladNotesX, y+4, esc(ln.Notes))
		}
		b.f(`</g>`)
	}
	b.f(`</svg>`)
	return template.HTML(b.String())
}
