package k8s_test

import (
	"bufio"
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// readmeDefaults returns, for every setting of README.md's configuration
// table that states a default, that default: "default `25`" (a row naming
// two settings, "`A` / `B`", gives its two defaults in order), or
// "`info` (default)".
func readmeDefaults(t *testing.T) map[string]string {
	t.Helper()
	var (
		names    = regexp.MustCompile("^\\| *((?:`[A-Z0-9_]+`(?: */ *)?)+) *\\|")
		name     = regexp.MustCompile("`([A-Z0-9_]+)`")
		defaults = regexp.MustCompile("default `([^`]*)`|`([^`]*)` \\(default\\)")
	)
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, "../../README.md")))
	for sc.Scan() {
		m := names.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		rest := sc.Text()[len(m[0]):]
		var ds []string
		for _, d := range defaults.FindAllStringSubmatch(rest, -1) {
			ds = append(ds, d[1]+d[2])
		}
		for i, n := range name.FindAllStringSubmatch(m[1], -1) {
			if i < len(ds) {
				out[n[1]] = ds[i]
			}
		}
	}
	for _, n := range []string{"SEND_RATE_GLOBAL", "SEND_RATE_GROUP", "LOG_LEVEL", "SESSION_IDLE_TTL"} {
		if _, ok := out[n]; !ok {
			t.Fatalf("README.md's configuration table states no default for %s: has its format changed? Update readmeDefaults", n)
		}
	}
	return out
}

// envFileSettings returns refundbot.env's settings, the commented-out
// examples ("# FLOOD_LIMIT=40") included: those show a default too.
func envFileSettings(t *testing.T) map[string]string {
	t.Helper()
	line := regexp.MustCompile(`^(?:# ?)?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)=(.*)$`)
	out := map[string]string{}
	for _, l := range strings.Split(string(readFile(t, "refundbot.env")), "\n") {
		if m := line.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			out[m[1]] = m[2]
		}
	}
	return out
}

// TestEnvFileMatchesReadmeDefaults: a setting refundbot.env gives that the
// README documents with a default has that default, so the two cannot
// drift (SEND_RATE_GLOBAL was 30 here while the README said 25, Telegram's
// 30 less headroom). A value chosen for one cluster belongs in an overlay,
// not in the base.
func TestEnvFileMatchesReadmeDefaults(t *testing.T) {
	defaults := readmeDefaults(t)
	checked := 0
	for n, v := range envFileSettings(t) {
		d, ok := defaults[n]
		if !ok {
			continue
		}
		checked++
		if v != d {
			t.Errorf("refundbot.env sets %s=%s, but README.md documents the default %s: make them one value", n, v, d)
		}
	}
	if checked < 5 {
		t.Errorf("only %d settings of refundbot.env have a default in README.md: is readmeDefaults still reading the table?", checked)
	}
}

// minKubernetes is the oldest Kubernetes minor release (1.x) on which the
// manifests work as written, with each field that needs a release newer
// than policy/v1 and networking.k8s.io/v1 (1.21) and the release that
// turned it on by default.
func minKubernetes(d *appsv1.Deployment, pdbs []*policyv1.PodDisruptionBudget) (minor int, why []string) {
	minor = 21
	need := func(m int, field string) {
		why = append(why, field+" (1."+strconv.Itoa(m)+")")
		minor = max(minor, m)
	}
	pod := d.Spec.Template.Spec
	for _, c := range pod.Containers {
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			// PodLifecycleSleepAction: beta, on by default, in 1.30.
			need(30, "lifecycle.preStop.sleep")
		}
	}
	for _, tsc := range pod.TopologySpreadConstraints {
		if len(tsc.MatchLabelKeys) > 0 {
			// MatchLabelKeysInPodTopologySpread: beta, on by default, in 1.27.
			need(27, "topologySpreadConstraints.matchLabelKeys")
			break
		}
	}
	for _, p := range pdbs {
		if p.Spec.UnhealthyPodEvictionPolicy != nil {
			// PDBUnhealthyPodEvictionPolicy: beta, on by default, in 1.27.
			need(27, "PodDisruptionBudget unhealthyPodEvictionPolicy")
			break
		}
	}
	return minor, why
}

// TestReadmeStatesMinimumKubernetes: the README's "Kubernetes 1.N or
// later" is the release the fields the manifests use need.
func TestReadmeStatesMinimumKubernetes(t *testing.T) {
	b := build(t)
	d, _ := b.bot(t)
	minor, why := minKubernetes(d, b.pdbs)
	m := regexp.MustCompile(`Kubernetes 1\.(\d+) or later`).FindSubmatch(readFile(t, "../../README.md"))
	if m == nil {
		t.Fatalf("README.md does not say \"Kubernetes 1.N or later\"; the manifests need 1.%d: %s", minor, strings.Join(why, ", "))
	}
	if got, _ := strconv.Atoi(string(m[1])); got != minor {
		t.Errorf("README.md says Kubernetes 1.%d or later; the manifests need 1.%d: %s", got, minor, strings.Join(why, ", "))
	}
}
