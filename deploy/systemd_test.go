package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unit is a systemd unit file: section → key → values, in order (a key may repeat; an empty
// assignment resets the list, as systemd reads it).
type unit map[string]map[string][]string

func readUnit(t *testing.T, name string) unit {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: cannot read %q", name, line)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if v == "" {
				u[section][k] = []string{} // set, and empty
				continue
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unit) get(section, key string) (string, bool) {
	v, ok := u[section][key]
	return strings.Join(v, " "), ok
}

// exitOutcome is what systemd does when a service's main process exits with code: "success",
// "restart" or "failed" (SuccessExitStatus=, Restart=on-failure, RestartPreventExitStatus=).
func (u unit) exitOutcome(code string) string {
	success, _ := u.get("Service", "SuccessExitStatus")
	prevent, _ := u.get("Service", "RestartPreventExitStatus")
	restart, _ := u.get("Service", "Restart")
	switch {
	case code == "0" || slices.Contains(strings.Fields(success), code):
		return "success"
	case (restart == "on-failure" || restart == "always") && !slices.Contains(strings.Fields(prevent), code):
		return "restart"
	default:
		return "failed"
	}
}

// Every service is hardened alike, and each treats cashpool's exit statuses as the README says.
func TestSystemdUnits(t *testing.T) {
	t.Parallel()
	services, err := filepath.Glob("systemd/*.service")
	if err != nil || len(services) != 2 {
		t.Fatalf("systemd services %v (%v): want cashpool.service and cashpool-run.service", services, err)
	}
	for _, name := range services {
		u := readUnit(t, name)
		for key, want := range map[string]string{
			"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "ProtectHome": "yes",
			"PrivateDevices": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "", "RestrictSUIDSGID": "yes",
			"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
			"RestrictNamespaces": "yes", "LockPersonality": "yes", "SystemCallArchitectures": "native",
		} {
			if got, ok := u.get("Service", key); !ok || got != want {
				t.Errorf("%s: %s=%s, want %s=%s", name, key, got, key, want)
			}
		}
		if user, _ := u.get("Service", "User"); user == "" || user == "root" || user == "0" {
			t.Errorf("%s: User=%q: run as cashpool's own user", name, user)
		}
		rw, _ := u.get("Service", "ReadWritePaths")
		wd, _ := u.get("Service", "WorkingDirectory")
		if rw == "" || !slices.Contains(strings.Fields(rw), wd) {
			t.Errorf("%s: ReadWritePaths=%q: ProtectSystem=strict leaves the data folder %q read-only", name, rw, wd)
		}
		for _, env := range u["Service"]["Environment"] {
			if k, v, _ := strings.Cut(env, "="); strings.HasSuffix(k, "_FILE") && strings.HasPrefix(v, wd) {
				t.Errorf("%s: %s is in the folder cashpool may write", name, env)
			}
		}
	}

	serve := readUnit(t, "systemd/cashpool.service")
	if exec, _ := serve.get("Service", "ExecStart"); exec != "/usr/local/bin/cashpool serve" {
		t.Errorf("cashpool.service ExecStart=%s", exec)
	}
	for code, want := range map[string]string{"1": "restart", "2": "failed"} {
		if got := serve.exitOutcome(code); got != want {
			t.Errorf("cashpool.service: exit %s → %s, want %s", code, got, want)
		}
	}

	run := readUnit(t, "systemd/cashpool-run.service")
	if exec, _ := run.get("Service", "ExecStart"); exec != "/usr/local/bin/cashpool run" {
		t.Errorf("cashpool-run.service ExecStart=%s", exec)
	}
	if typ, _ := run.get("Service", "Type"); typ != "oneshot" {
		t.Errorf("cashpool-run.service Type=%s, want oneshot", typ)
	}
	if timeout, _ := run.get("Service", "TimeoutStartSec"); timeout == "" || timeout == "infinity" {
		t.Errorf("cashpool-run.service TimeoutStartSec=%q: bound the run, as the CronJob's deadline does", timeout)
	}
	for code, want := range map[string]string{"1": "restart", "2": "failed", "3": "success"} {
		if got := run.exitOutcome(code); got != want {
			t.Errorf("cashpool-run.service: exit %s → %s, want %s", code, got, want)
		}
	}
	if burst, _ := run.get("Unit", "StartLimitBurst"); burst == "" {
		t.Errorf("cashpool-run.service: restarts after exit 1 need a bound (StartLimitBurst)")
	}

	timer := readUnit(t, "systemd/cashpool-run.timer")
	if cal, _ := timer.get("Timer", "OnCalendar"); cal == "" {
		t.Errorf("cashpool-run.timer: no OnCalendar")
	}
	if p, _ := timer.get("Timer", "Persistent"); p != "true" && p != "yes" {
		t.Errorf("cashpool-run.timer: Persistent=%q: a night missed while the machine was off must still run", p)
	}
	if target, ok := timer.get("Timer", "Unit"); ok && target != "cashpool-run.service" {
		t.Errorf("cashpool-run.timer starts %s, want cashpool-run.service", target)
	}
}
