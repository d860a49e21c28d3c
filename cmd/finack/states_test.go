package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
)

// TestStatesAt reads the states of gen-seq-wrap.pcap at moments chosen from its
// generator (capture/synth/teardown.go genSeqWrap): the client's FIN at +7 ms, the
// server's ACK at +8 ms, the server's FIN at +9 ms and again at +209 ms and +609 ms,
// the client's final ACK at +610 ms.
func TestStatesAt(t *testing.T) {
	tests := []struct {
		at   string
		want string
	}{
		{"+5ms", `{"192.0.2.1":{"ESTABLISHED":1},"192.0.2.10":{"ESTABLISHED":1}}`},
		{"+7500us", `{"192.0.2.1":{"FIN_WAIT1":1},"192.0.2.10":{"CLOSE_WAIT":1}}`},
		{"+8500us", `{"192.0.2.1":{"FIN_WAIT2":1},"192.0.2.10":{"CLOSE_WAIT":1}}`},
		{"+100ms", `{"192.0.2.1":{"TIME_WAIT":1},"192.0.2.10":{"LAST_ACK":1}}`},
		{"+700ms", `{"192.0.2.1":{"TIME_WAIT":1}}`},
		{"+61s", `{}`},
		{"2024-03-01T12:00:00.1Z", `{"192.0.2.1":{"TIME_WAIT":1},"192.0.2.10":{"LAST_ACK":1}}`},
	}
	for _, tc := range tests {
		t.Run(tc.at, func(t *testing.T) {
			out, errOut, code := runIn(t, pcapDir, "-r", "gen-seq-wrap.pcap", "-o", "json", "--at", tc.at)
			if code != pipeline.ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var doc struct {
				States map[string]map[string]int `json:"states"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(doc.States); string(got) != tc.want {
				t.Errorf("states %s, want %s", got, tc.want)
			}
		})
	}
}

// TestOSProfiles: the profile sets the TIME_WAIT length and whether an RST ends it.
// The final ACK is at +8 ms, the RST at +5.009 s.
func TestOSProfiles(t *testing.T) {
	tests := []struct {
		args  []string
		until string // time_wait_until of gen-late-and-rst-in-time-wait.pcap's connection
	}{
		{[]string{"--os", "linux"}, "2024-03-01T12:00:05.009Z"},   // ended by the RST
		{[]string{"--os", "freebsd"}, "2024-03-01T12:01:00.008Z"}, // RFC 1337: ignored
		{[]string{"--os", "macos"}, "2024-03-01T12:00:05.009Z"},   // 30 s, ended by the RST
		{[]string{"--os", "rfc"}, "2024-03-01T12:04:00.008Z"},     // 240 s, RST ignored
		{[]string{"--os", "rfc", "--time-wait", "90s"}, "2024-03-01T12:01:30.008Z"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"-r", "gen-late-and-rst-in-time-wait.pcap", "-o", "json"}, tc.args...)
			out, errOut, code := runIn(t, pcapDir, args...)
			if code != pipeline.ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var doc struct {
				Connections []struct {
					TimeWaitUntil string `json:"time_wait_until"`
				} `json:"connections"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Connections) != 1 || doc.Connections[0].TimeWaitUntil != tc.until {
				t.Errorf("time_wait_until %+v, want %s", doc.Connections, tc.until)
			}
		})
	}
	_, errOut, code := runIn(t, pcapDir, "-r", "client-close.pcap", "--os", "plan9")
	if code != pipeline.ExitError || !strings.Contains(errOut, "--os") {
		t.Errorf("--os plan9: exit %d, %q", code, errOut)
	}
}

// TestTimeWaitText checks the text rendering of --states on a capture where both
// hosts end with sockets: the netstat-style lines and the chart.
func TestTimeWaitText(t *testing.T) {
	out, errOut, code := runIn(t, pcapDir, "-r", "many-connections.pcap", "--states")
	if code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"10.77.0.1                                TIME_WAIT 87", "10.77.0.2                                TIME_WAIT 10",
		"10.77.0.2:7077", "closes, 10 by the server", "client ports tied up"} {
		if !strings.Contains(out, want) {
			t.Errorf("--states output lacks %q:\n%s", want, out)
		}
	}
}
