package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// --metrics-addr: Prometheus metrics of a live capture. The capture loop refreshes a
// snapshot of the counters every tick (250 ms); a scrape renders the latest snapshot,
// so it never races with the loop. The per-host socket states walk the whole
// tracked table (a tenth of a second for a large one), so they are
// computed on demand: a scrape that finds them older than a second asks the loop for
// fresh ones and waits for them (at most 2 s, then it serves the older ones).
// Every metric name is documented in docs/live.md ("Metrics").

// Snapshot is what the metrics show at one moment.
type Snapshot struct {
	Capture     capture.Stats
	Kernel      capture.KernelStats
	Tracker     reassembly.TrackerStats
	Connections uint64
	Closes      map[analyzer.Shape]uint64
	Findings    map[analyzer.Kind]uint64
	Provisional map[analyzer.Kind]uint64
	Withdrawn   map[analyzer.Kind]uint64
	LastPacket  reassembly.Instant // capture time of the last segment; 0: none yet
}

// Hosts is the netstat view of the tracked connections at one moment.
type Hosts struct {
	At       time.Time
	Local    map[netip.Addr][len(analyzer.StateNames)]int // local address → sockets per state (analyzer.StateNames order)
	RemoteTW int
}

type Metrics struct {
	ln      net.Listener
	srv     *http.Server
	served  chan error // what Serve returned, once it returns
	version string     // the build, for finack_build_info

	mu    sync.Mutex
	snap  Snapshot
	ok    bool
	hosts Hosts
	// wanted: a scrape asked for fresh host states; ready is closed when they come.
	wanted bool
	ready  chan struct{}
	// page: the HTML report served at / (--html), nil without one.
	page []byte
}

var (
	mPackets     = desc("finack_packets_total", "Frames libpcap delivered (after the BPF filter), TCP or not.")
	mSegments    = desc("finack_tcp_segments_total", "Frames decoded as TCP segments.")
	mSkipped     = desc("finack_skipped_packets_total", "Frames not analysed, by reason (not_ip, not_tcp, ip_fragment, undecodable, unsupported_link_type).", "reason")
	mRecv        = desc("finack_kernel_received_packets_total", "Packets the kernel passed through the capture filter (libpcap ps_recv, drops included).")
	mDrop        = desc("finack_kernel_dropped_packets_total", "Packets the kernel dropped because the capture buffer was full (libpcap ps_drop); raise -B.")
	mIfDrop      = desc("finack_interface_dropped_packets_total", "Packets the interface dropped (libpcap ps_ifdrop; not counted for -i any).")
	mConns       = desc("finack_connections_total", "Connections (incarnations) decided: finished by the tracker and analysed.")
	mCloses      = desc("finack_closes_total", "Decided connections by close shape.", "shape")
	mFindings    = desc("finack_findings_total", "Final findings by kind (decided when their connection was finished).", "kind")
	mProvisional = desc("finack_provisional_findings_total", "Findings first seen on a connection still tracked (printed as provisional), by kind.", "kind")
	mWithdrawn   = desc("finack_withdrawn_findings_total", "Provisional findings the final analysis did not confirm, by kind.", "kind")
	mTracked     = desc("finack_tracked_connections", "Connections (incarnations, TIME_WAIT records included) the tracker holds now.")
	mFlows       = desc("finack_tracked_flows", "4-tuples the tracker holds now.")
	mPeak        = desc("finack_tracked_connections_peak", "The most connections the tracker held at once.")
	mExpired     = desc("finack_expired_connections_total", "Connections finished because their close and TIME_WAIT were over (or a newer one replaced them).")
	mIdle        = desc("finack_idle_connections_total", "Open connections finished because they were idle longer than --idle-timeout.")
	mEvicted     = desc("finack_evicted_connections_total", "Connections finished early to stay under --max-connections.")
	mTimeWait    = desc("finack_time_wait_sockets", "TIME_WAIT entries held by each local address, as inferred from the traffic.", "host")
	mRemoteTW    = desc("finack_remote_time_wait_sockets", "TIME_WAIT entries held by addresses that are not this host's, together.")
	mSockets     = desc("finack_sockets", "Sockets of each local address by state (netstat names), as inferred from the traffic.", "host", "state")
	mLastPacket  = desc("finack_last_packet_timestamp_seconds", "Capture time of the last TCP segment (Unix seconds).")
	mBuild       = desc("finack_build_info", "Always 1; the labels name the build.", "version", "goversion")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

func New(ln net.Listener, version string) *Metrics {
	m := &Metrics{ln: ln, version: version}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		m.mu.Lock()
		page := m.page
		m.mu.Unlock()
		if page != nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(page) // fails only when the client went away: nothing to tell it
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("finack: metrics at /metrics\n")) // as above
	})
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.served = make(chan error, 1)
	go func() { m.served <- m.srv.Serve(ln) }()
	return m
}

func (m *Metrics) Addr() string { return m.ln.Addr().String() }

// Close stops the server, giving scrapes under way two seconds. It returns why the
// server had stopped serving before (an error accepting connections), or why it
// could not be shut down.
func (m *Metrics) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := m.srv.Shutdown(ctx)
	if e := <-m.served; !errors.Is(e, http.ErrServerClosed) {
		err = e
	}
	return err
}

// SetPage replaces the HTML report served at /.
func (m *Metrics) SetPage(page []byte) {
	m.mu.Lock()
	m.page = page
	m.mu.Unlock()
}

func (m *Metrics) Update(s Snapshot) {
	m.mu.Lock()
	m.snap, m.ok = s, true
	m.mu.Unlock()
}

// HostsWanted reports whether a scrape waits for fresh host states (the loop asks).
func (m *Metrics) HostsWanted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.wanted
}

// UpdateHosts publishes fresh host states and wakes the scrapes waiting for them.
func (m *Metrics) UpdateHosts(h Hosts) {
	m.mu.Lock()
	m.hosts = h
	if m.wanted {
		m.wanted = false
		close(m.ready)
	}
	m.mu.Unlock()
}

// freshHosts returns host states at most a second old, asking the loop and waiting
// for them when needed (at most 2 s: then the older ones). Before the loop's first
// tick there are none.
func (m *Metrics) freshHosts() Hosts {
	m.mu.Lock()
	if time.Since(m.hosts.At) < time.Second || !m.ok {
		h := m.hosts
		m.mu.Unlock()
		return h
	}
	if !m.wanted {
		m.wanted, m.ready = true, make(chan struct{})
	}
	ready := m.ready
	m.mu.Unlock()
	select {
	case <-ready:
	case <-time.After(2 * time.Second):
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hosts
}

// Describe sends every descriptor (prometheus.Collector).
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mPackets, mSegments, mSkipped, mRecv, mDrop, mIfDrop, mConns, mCloses, mFindings,
		mProvisional, mWithdrawn, mTracked, mFlows, mPeak, mExpired, mIdle, mEvicted, mTimeWait, mRemoteTW, mSockets,
		mLastPacket, mBuild} {
		ch <- d
	}
}

// Collect renders the latest snapshot (prometheus.Collector).
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	hs := m.freshHosts()
	m.mu.Lock()
	s, ok := m.snap, m.ok
	m.mu.Unlock()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(mBuild, 1, m.version, runtime.Version())
	if !ok {
		return // before the first tick: nothing measured yet
	}
	counter(mPackets, s.Capture.Packets)
	counter(mSegments, s.Capture.Segments)
	for i, n := range s.Capture.Skipped {
		if capture.SkipReason(i) == capture.Filtered {
			continue // the kernel filters live captures
		}
		counter(mSkipped, n, capture.SkipReason(i).String())
	}
	counter(mRecv, s.Kernel.Received)
	counter(mDrop, s.Kernel.Dropped)
	counter(mIfDrop, s.Kernel.IfDropped)
	counter(mConns, s.Connections)
	for _, sh := range analyzer.Shapes {
		counter(mCloses, s.Closes[sh], string(sh))
	}
	for _, k := range analyzer.Kinds {
		counter(mFindings, s.Findings[k], string(k))
		counter(mProvisional, s.Provisional[k], string(k))
		counter(mWithdrawn, s.Withdrawn[k], string(k))
	}
	gauge(mTracked, float64(s.Tracker.Tracked))
	gauge(mFlows, float64(s.Tracker.Flows))
	gauge(mPeak, float64(s.Tracker.PeakHeld))
	counter(mExpired, s.Tracker.Expired)
	counter(mIdle, s.Tracker.Idle)
	counter(mEvicted, s.Tracker.Evicted)
	tw := 0
	for i, name := range analyzer.StateNames {
		if name == analyzer.StateTimeWait {
			tw = i
		}
	}
	for a, c := range hs.Local {
		host := a.String()
		gauge(mTimeWait, float64(c[tw]), host)
		for i, name := range analyzer.StateNames {
			gauge(mSockets, float64(c[i]), host, name)
		}
	}
	if !hs.At.IsZero() {
		gauge(mRemoteTW, float64(hs.RemoteTW))
	}
	if s.LastPacket != 0 {
		gauge(mLastPacket, float64(s.LastPacket)/1e9) // Unix seconds
	}
}
