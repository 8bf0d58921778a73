package main

import (
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// configEnvNames returns every environment variable ConfigFromEnv reads,
// by running it with a getenv that records its questions: the list is the
// code's own, not a copy that could drift.
func configEnvNames(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	// Errors are expected (no token, no URLs); only the questions count.
	_, _ = ConfigFromEnv(func(name string) string { seen[name] = true; return "" })
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) < 20 || !seen["AGENT_CHAT_ID"] || !seen["WEBHOOK_SECRET"] {
		t.Fatalf("ConfigFromEnv read only %v: does it still take its getenv as a parameter?", names)
	}
	return names
}

// composeFile is the part of deploy/docker-compose.yml these tests read.
type composeFile struct {
	Services map[string]struct {
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
	} `yaml:"services"`
}

// interpolate expands ${NAME}, ${NAME:-default} and ${NAME:?message} the
// way docker compose does with NAME unset: the default, or "".
func interpolate(s string) string {
	return regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(?:(:?-)([^}]*)|:?\?[^}]*)?\}`).ReplaceAllString(s, "$2")
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("../../deploy/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("deploy/docker-compose.yml: %v", err)
	}
	if _, ok := f.Services["bot"]; !ok {
		t.Fatal("deploy/docker-compose.yml has no service bot")
	}
	return f
}

// TestComposePublishesOnLoopback: port 8080 carries the shop API, the
// webhook and the unauthenticated /metrics, so with nothing set it is
// published on 127.0.0.1 only, never on every interface of the host.
func TestComposePublishesOnLoopback(t *testing.T) {
	f := loadCompose(t)
	for name, svc := range f.Services {
		for _, p := range svc.Ports {
			spec := interpolate(p)
			// host_ip:host_port:container_port; IPv6 hosts in brackets.
			i := strings.LastIndex(spec, ":")
			j := strings.LastIndex(spec[:max(i, 0)], ":")
			if i < 0 || j < 0 {
				t.Errorf("service %s publishes %q (as %q): no host address, so on every interface; write 127.0.0.1:PORT:PORT", name, p, spec)
				continue
			}
			host := strings.Trim(spec[:j], "[]")
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				t.Errorf("service %s publishes %q (as %q) on %q by default: want 127.0.0.1", name, p, spec, host)
			}
		}
	}
	if len(f.Services["bot"].Ports) == 0 {
		t.Error("service bot publishes no port: the shop API and webhook would be unreachable")
	}
}

// TestComposePassesEverySetting: every setting the bot reads reaches the
// container from the host environment (${NAME...}), except HTTP_ADDR, which
// must be the container's port on all its interfaces.
func TestComposePassesEverySetting(t *testing.T) {
	env := loadCompose(t).Services["bot"].Environment
	fixed := map[string]string{"HTTP_ADDR": "0.0.0.0:8080"}
	for _, n := range configEnvNames(t) {
		v, ok := env[n]
		switch {
		case !ok:
			t.Errorf("%s is not passed to service bot: add %s: ${%s:-}", n, n, n)
		case fixed[n] != "":
			if v != fixed[n] {
				t.Errorf("%s is %q, want %q", n, v, fixed[n])
			}
		case !strings.HasPrefix(v, "${"+n+":") && v != "${"+n+"}":
			t.Errorf("%s is %q: take it from the host environment, ${%s:-default}", n, v, n)
		}
	}
	known := configEnvNames(t)
	for n := range env {
		if !slices.Contains(known, n) {
			t.Errorf("service bot sets %s, which the bot does not read", n)
		}
	}
}
