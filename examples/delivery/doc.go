// Package delivery runs the shop's delivery pipeline (.github/workflows/
// deliver.yml) under Gantry against a production stack on loopback: Debian's
// HAProxy, Prometheus, Pushgateway and docker-registry, a Grafana-API
// annotation endpoint, the stable shop serving and real traffic. The demo
// (scripts/demo.sh) and the package's test drive the same code.
package delivery
