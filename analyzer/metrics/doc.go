// Package metrics serves the Prometheus metrics of a live capture. The capture loop
// publishes a Snapshot every tick; a scrape renders the latest one and asks the loop
// for fresh per-host socket states (Hosts) when those it has are older than a second.
package metrics
