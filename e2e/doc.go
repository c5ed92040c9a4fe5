// Package e2e tests the alerting bundle as shipped: the rules in rules/ and
// their promtool unit tests, the runbook, the Grafana dashboards in
// dashboards/ and the deployment files in deploy/, against the metrics the
// exporter really exports; and, end to end, the exporter binary scraped by
// a real Prometheus that evaluates the shipped rules and sends alerts to a
// real Alertmanager (both from .tools/bin, built by scripts/install-tools.sh).
package e2e
