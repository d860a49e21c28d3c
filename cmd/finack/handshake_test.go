package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
)

// TestHandshakeCaptures: which connections the handshake captures hold
// (TEARDOWN's connection identity at the handshake), named by client, incarnation,
// first frame, packets and history, and the frames of each finding.
func TestHandshakeCaptures(t *testing.T) {
	for _, tc := range []struct {
		file        string
		connections string // client#incarnation@first_frame/packets/history, in report order
		findings    string // kind:frames, in report order
	}{
		// A late copy of the connection's own SYN (not captured at first on 41100):
		// no new incarnation, a late segment in TIME_WAIT.
		{"gen-late-syn-copy.pcap",
			"192.0.2.1:41100#1@1/11/hADadFlfLJ 192.0.2.1:41101#1@12/12/ShADadFlfLJ",
			"late_segment_in_time_wait:11 late_segment_in_time_wait:23"},
		// The new-ISN SYN into the half-open attempt is refused by that attempt (no
		// TIME_WAIT); the attempt's SYN-ACK repeated after it (frame 5) is its own.
		{"gen-syn-into-half-open.pcap",
			"192.0.2.1:41200#1@1/4/Shz 192.0.2.1:41200#2@4/14/SxRhADadFlfL",
			"stale_segment:5 syn_refused:4,6,7,8,9"},
		// Four SYNs given up, a new ISN 155 s later: two connections on 41300; a
		// new ISN 10 s into the attempt on 41301: one.
		{"gen-syn-retries-gave-up.pcap",
			"192.0.2.1:41300#1@1/4/S 192.0.2.1:41301#1@2/14/ShADadFlfL 192.0.2.1:41300#2@19/11/ShADadFlfL",
			""},
		// Recorded (Linux 6.18): the request socket's ACK refusing the new-ISN SYN
		// (frame 4) is the half-open attempt's, not a TIME_WAIT's.
		{"syn-into-half-open.pcap",
			"10.77.0.1:40003#1@1/2/Sh 10.77.0.1:40003#2@3/14/SxRhADadFlfL",
			"syn_refused:3,4,5,6,7"},
		// Recorded: six SYNs 1 s apart (linear timeouts), given up; a new ISN 2.5 s
		// after the last: two connections.
		{"syn-retries-exhausted.pcap",
			"10.77.0.1:40004#1@1/6/S 10.77.0.1:40004#2@7/11/ShADadFlfL", ""},
		// Recorded: both ends' SYNs, both SYN-ACKs, both ACKs: one connection.
		{"simultaneous-open.pcap", "10.77.0.1:40005#1@1/16/SshHaADdFlfL", ""},
		// SYN, SYN, SYN-ACK, ACK: one connection, the first SYN's sender the client.
		{"gen-simultaneous-open.pcap", "192.0.2.20:50000#1@1/12/SsHaDdAFlfL", ""},
		// The injected FIN (with the client's RST) and RST end nothing.
		{"gen-injected-before-synack.pcap",
			"192.0.2.1:41400#1@1/13/SeRhADadFlfL 192.0.2.1:41401#1@14/12/SehADadFlfL",
			"injected_before_handshake:2,3 injected_before_handshake:15"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out, errOut, code := runIn(t, pcapDir, "-r", tc.file, "-o", "json")
			if code != pipeline.ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var doc struct {
				Findings []struct {
					Kind   string
					Frames []uint64
				}
				Connections []struct {
					Client      string
					Incarnation int
					FirstFrame  uint64 `json:"first_frame"`
					Packets     uint64
					History     string
					RSTs        struct{ Client, Server int } `json:"rsts"`
					FINs        struct{ Client, Server int } `json:"fins"`
				}
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			var conns, finds []string
			for _, c := range doc.Connections {
				conns = append(conns, fmt.Sprintf("%s#%d@%d/%d/%s", c.Client, c.Incarnation, c.FirstFrame, c.Packets, c.History))
				if strings.Contains(tc.file, "injected") && (c.RSTs.Client+c.RSTs.Server != 0 || c.FINs.Server != 1) {
					t.Errorf("%s: RSTs %+v, FINs %+v: the injected segments counted as the connection's", c.Client, c.RSTs, c.FINs)
				}
			}
			for _, f := range doc.Findings {
				fr := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(f.Frames)), ","), "[]")
				finds = append(finds, f.Kind+":"+fr)
			}
			if got := strings.Join(conns, " "); got != tc.connections {
				t.Errorf("connections:\n got %s\nwant %s", got, tc.connections)
			}
			if got := strings.Join(finds, " "); got != tc.findings {
				t.Errorf("findings:\n got %s\nwant %s", got, tc.findings)
			}
		})
	}
}
