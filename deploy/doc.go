// Package deploy holds how cashpool is run in production: the Kubernetes manifests and the systemd
// units. It has no code; its tests check those files, the Dockerfile and `make build` against the
// properties operations rely on.
package deploy
