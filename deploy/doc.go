// Package deploy holds how cashpool is run in production: the Kubernetes manifests, the systemd
// units, the Prometheus alert rules and the Grafana dashboard. It has no code; its tests check
// those files, the Dockerfile and `make build` against the properties operations rely on.
package deploy
