#!/usr/bin/env bash
# stages.sh: where finack's CPU goes, by stage, from a CPU profile.
#
#   finack --workers 1 -q -r FILE -o json --cpuprofile cpu.prof > /dev/null
#   testdata/record/stages.sh cpu.prof [CONNECTIONS]
#
# Each sample goes to the stage of the innermost frame of its stack that names one
# (the rules below, first match from the leaf up), so that unpacking done while
# tracking a segment counts as unpacking, not as tracking; but a sample under the
# final report (report.WriteOutput: merging the sorted records, writing them) is the
# report's, whatever it calls. With CONNECTIONS, each
# stage's CPU is also given in microseconds per connection. The table is what
# docs/performance.md shows as the per-connection budget.
set -euo pipefail
prof=${1:?usage: stages.sh PROFILE [CONNECTIONS]}
conns=${2:-0}

go tool pprof -traces "$prof" 2>/dev/null | awk -v conns="$conns" '
function stage(fn) {
	# The text helpers of package analyzer (times, numbers, endpoints) are the stage of whoever
	# calls them: the analysis writing a message, or the report encoding a record.
	if (fn ~ /finack\/analyzer\.(Append(Time|Uint|Int|Endpoint|Addr)|appendRFC3339|appendOctet)/) return ""
	if (fn ~ /^runtime\.(gcBgMarkWorker|gcAssistAlloc|gcDrain|markroot|scanobject|bgsweep|bgscavenge)/) return "runtime: collector"
	if (fn ~ /reassembly\.\(\*coldStore\)|reassembly\.\(\*Tracker\)\.coldPut/) return "cold store (records on disk)"
	if (fn ~ /reassembly\.(unpackInto|\(\*unpacker\)|\(\*reader\)|\(\*Tracker\)\.(unpackRecord|unpackKeep|unpackPrev|unpackFlow|unpackFinished|recordData)|placeOf|readHeader|header$)/) return "unpacking"
	if (fn ~ /reassembly\.(packTry|packUnit|rehead|\(\*packer\)|\(\*group\)|\(\*Tracker\)\.(packRecord|reheadRecord|packPrev|pack$|packQuiet))/) return "packing"
	if (fn ~ /analyzer\/spill\.|analyzer\/report\.\(\*Recorder\)|analyzer\/report\.(append|\(\*incidentGrouper\))/) return "records: encoding, sorting"
	if (fn ~ /analyzer\/report\./) return "report: merging, writing"
	if (fn ~ /finack\/analyzer\.|analyzer\/pipeline\.ReadCapture\.func2/) return "analysis (findings, counts)"
	if (fn ~ /reassembly\.\(\*Tracker\)\.(sweep|Sweep|visit|overAt|wakeOver|retire)/) return "sweeps (finding what is over)"
	if (fn ~ /reassembly\.\(\*Tracker\)\.(Finish|handFinal|hand$|give)/) return "handing out"
	if (fn ~ /reassembly\.(\(\*Keyed\)|KeyOf|KeyedOf|keyInto|addrWords|Shard|InstantOf)/) return "read, decode, key, deal out"
	if (fn ~ /finack\/reassembly\./) return "tracking segments"
	if (fn ~ /finack\/capture|analyzer\/pipeline\.|gopacket/) return "read, decode, key, deal out"
	return ""
}
function done() {
	if (ms <= 0) return
	total += ms
	s = (out ? "report: merging, writing" : st == "" ? "runtime: other (scheduling, allocation)" : st)
	sum[s] += ms
}
/^-+\+-+$/ { done(); ms = 0; st = ""; out = 0; next }
/^ +[0-9.]+(ms|s) / {
	v = $1; if (v ~ /ms$/) { sub(/ms$/, "", v); ms = v + 0 } else { sub(/s$/, "", v); ms = v * 1000 }
	$1 = ""; sub(/^ +/, ""); fn = $0; if (st == "") st = stage(fn); next
}
ms > 0 && /^ +[^ ]/ {
	fn = $0; sub(/^ +/, "", fn)
	if (fn ~ /analyzer\/report\.WriteOutput/) out = 1
	if (st == "") st = stage(fn)
}
END {
	done()
	printf "| stage | share | CPU ms%s |\n|---|---|---|%s\n", (conns > 0 ? " | µs a connection" : ""), (conns > 0 ? "---|" : "")
	n = split("read, decode, key, deal out|tracking segments|sweeps (finding what is over)|packing|cold store (records on disk)|unpacking|handing out|analysis (findings, counts)|records: encoding, sorting|report: merging, writing|runtime: collector|runtime: other (scheduling, allocation)", order, "|")
	for (i = 1; i <= n; i++) {
		s = order[i]
		if (conns > 0) printf "| %s | %.0f%% | %.0f | %.2f |\n", s, 100 * sum[s] / total, sum[s], 1000 * sum[s] / conns
		else printf "| %s | %.0f%% | %.0f |\n", s, 100 * sum[s] / total, sum[s]
	}
	if (conns > 0) printf "| total | 100%% | %.0f | %.2f |\n", total, 1000 * total / conns
	else printf "| total | 100%% | %.0f |\n", total
}'
