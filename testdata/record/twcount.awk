#!/usr/bin/awk -f
# twcount.awk: an independent count of a server's TIME_WAIT entries and of the client
# ports tied up, replayed from a capture's closes, for checking finack's TIME_WAIT
# accounting on a capture where the server closes every connection first
# (record.sh port-wrap). It shares no code with finack: it reads tshark's fields
#
#   tshark -r F -T fields -E separator=' ' -e frame.time_epoch -e ip.src -e tcp.srcport \
#     -e ip.dst -e tcp.dstport -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.fin \
#     -e tcp.flags.reset -e tcp.len | awk -v server=10.77.0.2:7077 -v tw=60 -f twcount.awk
#
# and follows the RFC 9293 close per 4-tuple: the server's FIN, then the client's FIN,
# then the server's ACK of it: the server enters TIME_WAIT for tw seconds, unless a
# new SYN on the 4-tuple takes it over first. A client port is tied up from its SYN
# until its TIME_WAIT ends. It prints the peaks, when they were first reached (epoch
# seconds), the counts at the end, and how many TIME_WAIT entries there were in all.
function expire(now,    k) {
	while (qh < qt && qtime[qh] + tw <= now) {
		k = qkey[qh]
		if (twstart[k] == qtime[qh]) { delete twstart[k]; twcount-- }
		if (tieduntil[k] == qtime[qh] + tw) { delete tieduntil[k]; tied-- }
		qh++
	}
}
{
	t = $1 + 0; src = $2 ":" $3; dst = $4 ":" $5
	syn = $6 + 0; ack = $7 + 0; fin = $8 + 0; rst = $9 + 0; len = $10 + 0
	expire(t)
	fromServer = (src == server)
	key = fromServer ? dst : src
	if (syn && !ack && !fromServer) {
		if (key in twstart) { delete twstart[key]; twcount-- }   # the SYN takes the 4-tuple over
		if (!(key in tieduntil)) tied++
		tieduntil[key] = "open"
		state[key] = "open"
		if (tied > tiedpeak) { tiedpeak = tied; tiedpeakat = t }
		next
	}
	if (fin && fromServer && state[key] == "open") { state[key] = "server-fin"; next }
	if (fin && !fromServer && state[key] == "server-fin") { state[key] = "client-fin"; next }
	if (ack && !fin && !syn && !rst && fromServer && state[key] == "client-fin") {
		state[key] = "time-wait"
		twstart[key] = t; tieduntil[key] = t + tw
		qkey[qt] = key; qtime[qt] = t; qt++
		twcount++; total++
		if (twcount > twpeak) { twpeak = twcount; twpeakat = t }
	}
	last = t
}
END {
	expire(last)
	printf "tw_peak %d\ntw_peak_at %.6f\ntw_at_end %d\ntw_total %d\nports_peak %d\nports_peak_at %.6f\n", twpeak, twpeakat, twcount, total, tiedpeak, tiedpeakat
}
