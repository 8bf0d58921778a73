// Package k8s_test checks deploy/k8s: every file decodes strictly into the
// real Kubernetes API types (a misspelt or misplaced field fails), kustomize
// builds the directory as `kubectl apply -k deploy/k8s` would, and the built
// objects agree with each other and with the bot (ports, probes, labels,
// environment names, grace periods, the non-root user of deploy/Dockerfile).
//
// deploy/k8s is its own Go module, so that k8s.io/api and kustomize stay out
// of the bot's go.mod; deploy/test.sh runs it after the main tests.
package k8s_test

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const (
	wantReplicas = 3
	// The bot runs under 64 MiB with 10,000 open dialogs.
	botMemory = 64 << 20
	// ConfigFromEnv's default SHUTDOWN_GRACE.
	defaultShutdownGrace = 10 * time.Second
	// After SHUTDOWN_GRACE the bot gives answers in flight a little longer
	// (cmd/refundbot/run.go: srv.Shutdown with grace+2s).
	shutdownSlack = 2 * time.Second
	// The Secret the manifests reference; kustomization.yaml documents the
	// `kubectl create secret` command that makes it.
	secretName = "refundbot-secrets"
)

// pendingEnv are settings being added to ConfigFromEnv that cmd/refundbot
// does not read yet: allowed in the manifests meanwhile. Put a name here only
// for that time (the test logs when cmd/refundbot reads it, so it can go).
// Issue 5's WEBHOOK_URL, WEBHOOK_SECRET, SEND_RATE_GLOBAL, SEND_RATE_CHAT,
// SEND_RATE_GROUP, SHUTDOWN_GRACE and LOG_LEVEL are all read now.
var pendingEnv = []string{}

// runtimeEnv are read by the Go runtime, not by ConfigFromEnv.
var runtimeEnv = []string{"GOMEMLIMIT"}

// secretEnv must come from the Secret, never from a literal or a ConfigMap.
var secretEnv = []string{
	"TELEGRAM_BOT_TOKEN", "WEBHOOK_SECRET", "REDIS_URL", "DATABASE_URL",
	"SHOP_API_TOKEN", "SHOP_WEBHOOK_SECRET",
}

// requiredEnv must be set with TELEGRAM_BOT_TOKEN (not the sandbox).
var requiredEnv = []string{"TELEGRAM_BOT_TOKEN", "REDIS_URL", "DATABASE_URL"}

// ---------------------------------------------------------------- files ---

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// strict decodes YAML into v as the API server's strict field validation
// does: field names are case-sensitive (encoding/json alone would take
// readOnlyRootFileSystem for readOnlyRootFilesystem), and unknown fields and
// duplicate keys are errors.
func strict(data []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// documents splits a multi-document YAML stream, dropping empty documents
// (only comments or blanks).
func documents(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasContent(cur.Bytes()) {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.TrimRight(line, " \t\r\n") == "---" {
			flush()
			continue
		}
		cur.WriteString(line)
	}
	flush()
	return docs
}

func hasContent(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		l := strings.TrimSpace(line)
		if l != "" && !strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}

// newObject returns the API type for apiVersion and kind; Secrets are
// refused: they are created by hand, never committed.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}, nil
	case "v1 Secret":
		return nil, fmt.Errorf("a Secret in the manifests: secrets are created with `kubectl create secret` (kustomization.yaml) and only referenced by name")
	}
	return nil, fmt.Errorf("apiVersion %q kind %q: not a type this test knows; add it to newObject", apiVersion, kind)
}

// decodeAll strictly decodes every document of data into its API type.
func decodeAll(data []byte) ([]any, error) {
	var objs []any
	for i, doc := range documents(data) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		obj, err := newObject(tm.APIVersion, tm.Kind)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if err := strict(doc, obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i+1, tm.Kind, err)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

func loadKustomization(t *testing.T) kustypes.Kustomization {
	t.Helper()
	var k kustypes.Kustomization
	if err := strict(readFile(t, "kustomization.yaml"), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return k
}

// generatorFiles lists the files the kustomization's generators read.
func generatorFiles(k kustypes.Kustomization) []string {
	var files []string
	add := func(s kustypes.KvPairSources) {
		for _, f := range s.FileSources {
			// "key=path" or "path"
			if _, p, ok := strings.Cut(f, "="); ok {
				f = p
			}
			files = append(files, f)
		}
		files = append(files, s.EnvSources...)
		if s.EnvSource != "" {
			files = append(files, s.EnvSource)
		}
	}
	for _, g := range k.ConfigMapGenerator {
		add(g.KvPairSources)
	}
	for _, g := range k.SecretGenerator {
		add(g.KvPairSources)
	}
	return files
}

// TestKustomizationFiles: every file kustomization.yaml names exists, and
// every YAML (and .env) file of the directory is named there, so nothing is
// silently left out of `kubectl apply -k`.
func TestKustomizationFiles(t *testing.T) {
	k := loadKustomization(t)
	listed := map[string]bool{}
	for _, f := range append(slices.Clone(k.Resources), generatorFiles(k)...) {
		clean := filepath.Clean(f)
		if listed[clean] {
			t.Errorf("kustomization.yaml names %s twice", f)
		}
		listed[clean] = true
		if st, err := os.Stat(clean); err != nil {
			t.Errorf("kustomization.yaml names %s: %v", f, err)
		} else if st.IsDir() {
			t.Errorf("kustomization.yaml names %s, a directory: keep the base flat", f)
		}
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || name == "kustomization.yaml" {
			continue
		}
		switch filepath.Ext(name) {
		case ".yaml", ".yml", ".env":
			if !listed[name] {
				t.Errorf("%s is not named in kustomization.yaml (resources or a generator)", name)
			}
		}
	}
	if len(k.Resources) == 0 {
		t.Error("kustomization.yaml lists no resources")
	}
}

// TestResourceFilesDecodeStrictly decodes each resource file on its own, so
// a mistake is reported with its file.
func TestResourceFilesDecodeStrictly(t *testing.T) {
	k := loadKustomization(t)
	for _, f := range k.Resources {
		objs, err := decodeAll(readFile(t, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(objs) == 0 {
			t.Errorf("%s: no object", f)
		}
	}
}

// ---------------------------------------------------------------- build ---

type built struct {
	namespaces  []*corev1.Namespace
	configMaps  map[string]*corev1.ConfigMap
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	ingresses   []*networkingv1.Ingress
	all         []metav1.Object
}

// build runs kustomize on this directory, like `kubectl apply -k`, and
// decodes its output strictly.
func build(t *testing.T) *built {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build deploy/k8s: %v", err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll(out)
	if err != nil {
		t.Fatalf("kustomize output: %v", err)
	}
	b := &built{configMaps: map[string]*corev1.ConfigMap{}}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Namespace:
			b.namespaces = append(b.namespaces, o)
		case *corev1.ConfigMap:
			b.configMaps[o.Name] = o
		case *appsv1.Deployment:
			b.deployments = append(b.deployments, o)
		case *corev1.Service:
			b.services = append(b.services, o)
		case *policyv1.PodDisruptionBudget:
			b.pdbs = append(b.pdbs, o)
		case *networkingv1.Ingress:
			b.ingresses = append(b.ingresses, o)
		}
		b.all = append(b.all, o.(metav1.Object))
	}
	return b
}

// bot returns the one Deployment and its one container.
func (b *built) bot(t *testing.T) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	if len(b.deployments) != 1 {
		t.Fatalf("want one Deployment, got %d", len(b.deployments))
	}
	d := b.deployments[0]
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment %s: want one container, got %d", d.Name, n)
	}
	return d, &d.Spec.Template.Spec.Containers[0]
}

// env is the container's environment as the kubelet builds it: envFrom
// ConfigMaps first, env on top.
type envVar struct {
	value  string // literal or from a ConfigMap
	secret *corev1.SecretKeySelector
	origin string
}

func (b *built) env(t *testing.T, c *corev1.Container) map[string]envVar {
	t.Helper()
	vars := map[string]envVar{}
	for _, src := range c.EnvFrom {
		switch {
		case src.ConfigMapRef != nil:
			cm, ok := b.configMaps[src.ConfigMapRef.Name]
			if !ok {
				t.Errorf("envFrom names ConfigMap %s, which the manifests do not make", src.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				if prev, dup := vars[src.Prefix+k]; dup {
					t.Errorf("%s is set twice: in %s and ConfigMap %s", src.Prefix+k, prev.origin, cm.Name)
				}
				vars[src.Prefix+k] = envVar{value: v, origin: "ConfigMap " + cm.Name}
			}
		case src.SecretRef != nil:
			t.Errorf("envFrom Secret %s: name each secret key in env (secretKeyRef), so the keys are checked and documented", src.SecretRef.Name)
		}
	}
	for _, e := range c.Env {
		if prev, dup := vars[e.Name]; dup {
			t.Errorf("%s is set twice: in %s and in the container's env (env silently wins)", e.Name, prev.origin)
		}
		v := envVar{value: e.Value, origin: "env"}
		if e.ValueFrom != nil {
			switch {
			case e.ValueFrom.SecretKeyRef != nil:
				v.secret = e.ValueFrom.SecretKeyRef
				v.origin = "Secret " + v.secret.Name
			case e.ValueFrom.ConfigMapKeyRef != nil:
				ref := e.ValueFrom.ConfigMapKeyRef
				cm, ok := b.configMaps[ref.Name]
				if !ok {
					t.Errorf("%s: ConfigMap %s is not in the manifests", e.Name, ref.Name)
				} else if val, ok := cm.Data[ref.Key]; !ok {
					t.Errorf("%s: ConfigMap %s has no key %s", e.Name, ref.Name, ref.Key)
				} else {
					v.value = val
				}
				v.origin = "ConfigMap " + ref.Name
			default:
				t.Errorf("%s: only literals, ConfigMap and Secret keys are expected", e.Name)
			}
		}
		vars[e.Name] = v
	}
	return vars
}

// containerPort resolves a probe's or a Service's port (a number or the
// name of a container port) to the container's port number.
func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func selectorMatches(t *testing.T, what string, sel *metav1.LabelSelector, podLabels map[string]string) {
	t.Helper()
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		t.Errorf("%s: empty selector (it would select every pod)", what)
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if !s.Matches(labels.Set(podLabels)) {
		t.Errorf("%s: selector %s does not match the pod labels %v", what, s, podLabels)
	}
}

// ---------------------------------------------------- the bot's settings ---

// configEnvNames returns the environment names cmd/refundbot reads: the
// string literals passed to getenv(...) (ConfigFromEnv's parameter), and to
// os.Getenv / os.LookupEnv, in its non-test Go files; and, in the files that
// call getenv, every string literal that is a whole env-style name
// (SEND_RATE_GLOBAL), since some are read in a loop over a table of names.
func configEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	dir := filepath.Join("..", "..", "cmd", "refundbot")
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		var nameLits []string
		callsGetenv := false
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(s) {
					nameLits = append(nameLits, s)
				}
				return true
			}
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				return true
			}
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				if fn.Name != "getenv" {
					return true
				}
			case *ast.SelectorExpr:
				x, ok := fn.X.(*ast.Ident)
				if !ok || x.Name != "os" || (fn.Sel.Name != "Getenv" && fn.Sel.Name != "LookupEnv") {
					return true
				}
			default:
				return true
			}
			callsGetenv = true
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					names[s] = true
				}
			}
			return true
		})
		if callsGetenv {
			for _, s := range nameLits {
				names[s] = true
			}
		}
	}
	// Guard against the parse silently finding nothing (a renamed getenv).
	for _, n := range []string{"TELEGRAM_BOT_TOKEN", "REDIS_URL", "DATABASE_URL", "HTTP_ADDR"} {
		if !names[n] {
			t.Fatalf("found no getenv(%q) in %s: does ConfigFromEnv still take a getenv func? Update configEnvNames", n, dir)
		}
	}
	return names
}

// envName is the shape of an environment variable's name, with at least
// one underscore so that ordinary words in capitals do not count.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// dockerfileUID returns the uid of the last USER of deploy/Dockerfile.
func dockerfileUID(t *testing.T) int64 {
	t.Helper()
	var user string
	for _, line := range strings.Split(string(readFile(t, filepath.Join("..", "Dockerfile"))), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.EqualFold(f[0], "USER") {
			user = f[1]
		}
	}
	if user == "" {
		t.Fatal("deploy/Dockerfile has no USER")
	}
	user, _, _ = strings.Cut(user, ":")
	if user == "nonroot" { // distroless's nonroot user
		return 65532
	}
	uid, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		t.Fatalf("deploy/Dockerfile: USER %s: want a uid (or distroless's nonroot)", user)
	}
	return uid
}

// documentedSecretKeys returns the keys of the `kubectl create secret`
// command in kustomization.yaml's comments (--from-literal=KEY=...).
func documentedSecretKeys(t *testing.T) map[string]bool {
	t.Helper()
	src := string(readFile(t, "kustomization.yaml"))
	if !strings.Contains(src, "create secret generic "+secretName) {
		t.Errorf("kustomization.yaml does not document `kubectl create secret generic %s`", secretName)
	}
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile(`--from-literal=([A-Z0-9_]+)=`).FindAllStringSubmatch(src, -1) {
		keys[m[1]] = true
	}
	return keys
}

// ---------------------------------------------------------------- tests ---

func TestDeployment(t *testing.T) {
	b := build(t)
	d, c := b.bot(t)
	pod := d.Spec.Template.Spec
	podLabels := d.Spec.Template.Labels

	if d.Spec.Replicas == nil || *d.Spec.Replicas != wantReplicas {
		t.Errorf("replicas: want %d", wantReplicas)
	}
	selectorMatches(t, "Deployment", d.Spec.Selector, podLabels)

	// Rolling update: never more than one replica down, and never stuck.
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate == nil {
		t.Error("strategy: want RollingUpdate with maxSurge/maxUnavailable spelt out")
	} else {
		ru := d.Spec.Strategy.RollingUpdate
		unavail := scaled(t, "maxUnavailable", ru.MaxUnavailable, wantReplicas, false)
		surge := scaled(t, "maxSurge", ru.MaxSurge, wantReplicas, true)
		if unavail > 1 {
			t.Errorf("maxUnavailable %d: at most 1 of %d replicas may be down in a rollout", unavail, wantReplicas)
		}
		if unavail == 0 && surge == 0 {
			t.Error("maxUnavailable and maxSurge both 0: the rollout cannot progress")
		}
	}

	// The port: HTTP_ADDR listens on every interface, on the container port.
	env := b.env(t, c)
	addr, ok := env["HTTP_ADDR"]
	if !ok {
		t.Fatal("HTTP_ADDR is not set: the bot's default 127.0.0.1:8080 is unreachable from outside the pod")
	}
	host, portStr, err := net.SplitHostPort(addr.value)
	if err != nil {
		t.Fatalf("HTTP_ADDR %q: %v", addr.value, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("HTTP_ADDR %q: must listen on all interfaces (0.0.0.0 or empty host) in a container", addr.value)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatalf("HTTP_ADDR %q: port: %v", addr.value, err)
	}
	var http *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].ContainerPort == int32(port) {
			http = &c.Ports[i]
		}
	}
	if http == nil {
		t.Fatalf("no containerPort %d (HTTP_ADDR %s)", port, addr.value)
	}

	// Probes.
	probe := func(name string, p *corev1.Probe, path string) {
		t.Helper()
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe on %s", name, path)
			return
		}
		if p.HTTPGet.Path != path {
			t.Errorf("%s: path %q, want %s", name, p.HTTPGet.Path, path)
		}
		if got, ok := containerPort(c, p.HTTPGet.Port); !ok || got != http.ContainerPort {
			t.Errorf("%s: port %s is not the bot's port %d", name, p.HTTPGet.Port.String(), http.ContainerPort)
		}
	}
	probe("readinessProbe", c.ReadinessProbe, "/readyz")
	probe("livenessProbe", c.LivenessProbe, "/healthz")
	if c.StartupProbe != nil {
		probe("startupProbe", c.StartupProbe, "/healthz")
	}

	// Shutdown: preStop sleep, then SIGTERM, then SHUTDOWN_GRACE, all within
	// terminationGracePeriodSeconds.
	var preStop time.Duration
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Error("preStop: want a sleep action (the distroless image has no shell for an exec sleep)")
	} else {
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		if preStop < time.Second || preStop > 15*time.Second {
			t.Errorf("preStop sleep %s: want a few seconds", preStop)
		}
	}
	grace := defaultShutdownGrace
	if v, ok := env["SHUTDOWN_GRACE"]; ok {
		grace, err = time.ParseDuration(v.value)
		if err != nil || grace <= 0 {
			t.Errorf("SHUTDOWN_GRACE %q: want a positive duration", v.value)
		}
	}
	if pod.TerminationGracePeriodSeconds == nil {
		t.Error("terminationGracePeriodSeconds: spell it out")
	} else if tg := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second; tg <= preStop+grace+shutdownSlack {
		t.Errorf("terminationGracePeriodSeconds %s must exceed preStop %s + SHUTDOWN_GRACE %s + the bot's %s to send answers", tg, preStop, grace, shutdownSlack)
	}

	// Security: the Dockerfile's non-root user, nothing writable, no capabilities.
	uid := dockerfileUID(t)
	psc, csc := pod.SecurityContext, c.SecurityContext
	if csc == nil {
		t.Fatal("container securityContext: missing")
	}
	nonRoot := (csc.RunAsNonRoot != nil && *csc.RunAsNonRoot) || (csc.RunAsNonRoot == nil && psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
	if !nonRoot {
		t.Error("runAsNonRoot: want true")
	}
	runAs := csc.RunAsUser
	if runAs == nil && psc != nil {
		runAs = psc.RunAsUser
	}
	if runAs != nil && *runAs != uid {
		t.Errorf("runAsUser %d, but deploy/Dockerfile's USER is %d", *runAs, uid)
	}
	if runAs != nil && *runAs == 0 {
		t.Error("runAsUser 0")
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem: want true")
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation: want false")
	}
	if csc.Privileged != nil && *csc.Privileged {
		t.Error("privileged container")
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		t.Error("capabilities: want drop [ALL]")
	} else if len(csc.Capabilities.Add) > 0 {
		t.Errorf("capabilities: adds %v; the bot needs none (port 8080 is unprivileged)", csc.Capabilities.Add)
	}

	// Resources for a small Go service.
	req, lim := c.Resources.Requests, c.Resources.Limits
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := req[r]; !ok {
			t.Errorf("resources.requests.%s: missing", r)
		}
	}
	memLimit, ok := lim[corev1.ResourceMemory]
	if !ok {
		t.Error("resources.limits.memory: missing")
	} else {
		if memLimit.Value() < botMemory {
			t.Errorf("memory limit %s is below what the bot uses (64 MiB)", memLimit.String())
		}
		if memLimit.Value() > 1<<30 {
			t.Errorf("memory limit %s: far more than the bot needs", memLimit.String())
		}
		if r, ok := req[corev1.ResourceMemory]; ok && r.Cmp(memLimit) > 0 {
			t.Errorf("memory request %s above its limit %s", r.String(), memLimit.String())
		}
		if v, ok := env["GOMEMLIMIT"]; ok {
			gml, err := resource.ParseQuantity(strings.TrimSuffix(v.value, "B"))
			if err != nil {
				t.Errorf("GOMEMLIMIT %q: %v", v.value, err)
			} else if gml.Cmp(memLimit) >= 0 {
				t.Errorf("GOMEMLIMIT %s must stay below the memory limit %s", v.value, memLimit.String())
			}
		}
	}
	if r, ok := req[corev1.ResourceCPU]; ok {
		if l, ok := lim[corev1.ResourceCPU]; ok && r.Cmp(l) > 0 {
			t.Errorf("cpu request %s above its limit %s", r.String(), l.String())
		}
	}

	// Image: pinned, not :latest.
	if img := c.Image; strings.HasSuffix(img, ":latest") || (!strings.Contains(img, "@") && !strings.Contains(img[strings.LastIndex(img, "/")+1:], ":")) {
		t.Errorf("image %q: pin a tag or digest (kustomization.yaml images)", img)
	}

	// Spread over nodes.
	spread := false
	for _, tsc := range pod.TopologySpreadConstraints {
		if tsc.TopologyKey == "kubernetes.io/hostname" {
			spread = true
			selectorMatches(t, "topologySpreadConstraint "+tsc.TopologyKey, tsc.LabelSelector, podLabels)
		}
	}
	if a := pod.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if w.PodAffinityTerm.TopologyKey == "kubernetes.io/hostname" {
				spread = true
				selectorMatches(t, "podAntiAffinity", w.PodAffinityTerm.LabelSelector, podLabels)
			}
		}
		for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if term.TopologyKey == "kubernetes.io/hostname" {
				spread = true
				selectorMatches(t, "podAntiAffinity", term.LabelSelector, podLabels)
			}
		}
	}
	if !spread {
		t.Error("no topologySpreadConstraints or podAntiAffinity on kubernetes.io/hostname: replicas may share a node")
	}

	// Prometheus scraping.
	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" || ann["prometheus.io/port"] != strconv.Itoa(int(http.ContainerPort)) {
		t.Errorf("pod annotations: want prometheus.io/scrape \"true\", path /metrics, port %d; got %v", http.ContainerPort, ann)
	}
}

func scaled(t *testing.T, name string, v *intstr.IntOrString, total int, roundUp bool) int {
	t.Helper()
	if v == nil {
		t.Errorf("%s: spell it out (the default is 25%%)", name)
		return 1
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, total, roundUp)
	if err != nil {
		t.Errorf("%s: %v", name, err)
	}
	return n
}

// TestEnvironment: the Deployment sets only settings the bot reads, takes
// the secret ones from the Secret, and sets what webhook mode needs.
func TestEnvironment(t *testing.T) {
	b := build(t)
	_, c := b.bot(t)
	env := b.env(t, c)
	known := configEnvNames(t)
	for _, n := range pendingEnv {
		if known[n] {
			t.Logf("cmd/refundbot now reads %s: remove it from pendingEnv", n)
		}
	}
	names := make([]string, 0, len(env))
	for n := range env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := env[n]
		if !known[n] && !slices.Contains(pendingEnv, n) && !slices.Contains(runtimeEnv, n) {
			t.Errorf("%s (%s) is not a setting cmd/refundbot reads (no getenv(%q) in cmd/refundbot)", n, v.origin, n)
		}
		if slices.Contains(secretEnv, n) && v.secret == nil {
			t.Errorf("%s is set from %s: it is a secret, take it from Secret %s", n, v.origin, secretName)
		}
	}
	for _, n := range requiredEnv {
		if _, ok := env[n]; !ok {
			t.Errorf("%s is not set: the bot refuses to start without it", n)
		} else if s := env[n].secret; s != nil && s.Optional != nil && *s.Optional {
			t.Errorf("%s: required, but its secretKeyRef is optional", n)
		}
	}

	// Webhook mode, with its secret.
	hook, ok := env["WEBHOOK_URL"]
	if !ok {
		t.Error("WEBHOOK_URL is not set: replicas would all long-poll, and Telegram allows one getUpdates at a time")
	} else {
		u, err := url.Parse(hook.value)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			t.Errorf("WEBHOOK_URL %q: Telegram needs an https URL", hook.value)
		}
		if _, ok := env["WEBHOOK_SECRET"]; !ok {
			t.Error("WEBHOOK_SECRET is required with WEBHOOK_URL")
		}
	}
	if _, ok := env["SHOP_WEBHOOK_URL"]; ok {
		if _, ok := env["SHOP_WEBHOOK_SECRET"]; !ok {
			t.Error("SHOP_WEBHOOK_SECRET is required with SHOP_WEBHOOK_URL")
		}
	}

	// Secret references: one Secret, the documented keys.
	documented := documentedSecretKeys(t)
	referenced := map[string]bool{}
	for _, n := range names {
		if s := env[n].secret; s != nil {
			if s.Name != secretName {
				t.Errorf("%s comes from Secret %s; all secrets are in %s", n, s.Name, secretName)
			}
			referenced[s.Key] = true
			if !documented[s.Key] {
				t.Errorf("Secret key %s is used but not in kustomization.yaml's `kubectl create secret` command", s.Key)
			}
		}
	}
	for k := range documented {
		if !referenced[k] {
			t.Errorf("kustomization.yaml's `kubectl create secret` sets %s, which the Deployment does not use", k)
		}
	}

	// Rates and levels, where set, are of the right form.
	for _, n := range []string{"SEND_RATE_GLOBAL", "SEND_RATE_CHAT", "SEND_RATE_GROUP"} {
		if v, ok := env[n]; ok && v.value != "off" {
			if i, err := strconv.Atoi(v.value); err != nil || i <= 0 {
				t.Errorf("%s %q: want a positive whole number of messages, or off", n, v.value)
			}
		}
	}
	if v, ok := env["LOG_LEVEL"]; ok && !slices.Contains([]string{"debug", "info", "warn", "error"}, v.value) {
		t.Errorf("LOG_LEVEL %q: want debug, info, warn or error", v.value)
	}
}

// TestPolicyFile: POLICY_FILE is a file of a mounted ConfigMap, and that
// ConfigMap ships deploy/policy.example.yaml unchanged.
func TestPolicyFile(t *testing.T) {
	b := build(t)
	d, c := b.bot(t)
	env := b.env(t, c)
	v, ok := env["POLICY_FILE"]
	if !ok {
		t.Fatal("POLICY_FILE is not set")
	}
	path := v.value
	var data *string
	for _, m := range c.VolumeMounts {
		rel, err := filepath.Rel(m.MountPath, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("volumeMount %s: want readOnly", m.Name)
		}
		if m.SubPath != "" {
			t.Errorf("volumeMount %s: subPath mounts never see ConfigMap updates; mount the directory", m.Name)
		}
		for _, vol := range d.Spec.Template.Spec.Volumes {
			if vol.Name != m.Name || vol.ConfigMap == nil {
				continue
			}
			cm, ok := b.configMaps[vol.ConfigMap.Name]
			if !ok {
				t.Fatalf("volume %s: ConfigMap %s is not in the manifests", vol.Name, vol.ConfigMap.Name)
			}
			key := rel
			if len(vol.ConfigMap.Items) > 0 {
				key = ""
				for _, it := range vol.ConfigMap.Items {
					if it.Path == rel {
						key = it.Key
					}
				}
			}
			if s, ok := cm.Data[key]; ok {
				data = &s
			}
		}
	}
	if data == nil {
		t.Fatalf("POLICY_FILE %s is not a key of a ConfigMap mounted in the container", path)
	}
	if want := string(readFile(t, filepath.Join("..", "policy.example.yaml"))); *data != want {
		t.Errorf("the mounted policy differs from deploy/policy.example.yaml: keep deploy/k8s/policy.yaml a copy of it (put your shop's own policy in an overlay)")
	}
}

func TestService(t *testing.T) {
	b := build(t)
	d, c := b.bot(t)
	if len(b.services) != 1 {
		t.Fatalf("want one Service, got %d", len(b.services))
	}
	s := b.services[0]
	if s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("Service type %s: want ClusterIP (the Ingress exposes it)", s.Spec.Type)
	}
	selectorMatches(t, "Service", &metav1.LabelSelector{MatchLabels: s.Spec.Selector}, d.Spec.Template.Labels)
	if len(s.Spec.Ports) != 1 {
		t.Fatalf("Service: want one port, got %d", len(s.Spec.Ports))
	}
	p := s.Spec.Ports[0]
	if p.Port != 80 {
		t.Errorf("Service port %d: want 80", p.Port)
	}
	if got, ok := containerPort(c, p.TargetPort); !ok || got != 8080 {
		t.Errorf("Service targetPort %s: want the container's port 8080", p.TargetPort.String())
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	b := build(t)
	d, _ := b.bot(t)
	if len(b.pdbs) != 1 {
		t.Fatalf("want one PodDisruptionBudget, got %d", len(b.pdbs))
	}
	p := b.pdbs[0]
	selectorMatches(t, "PodDisruptionBudget", p.Spec.Selector, d.Spec.Template.Labels)
	switch {
	case p.Spec.MaxUnavailable != nil && p.Spec.MinAvailable != nil:
		t.Error("PodDisruptionBudget: set minAvailable or maxUnavailable, not both")
	case p.Spec.MaxUnavailable != nil:
		if n := scaled(t, "maxUnavailable", p.Spec.MaxUnavailable, wantReplicas, true); n != 1 {
			t.Errorf("PodDisruptionBudget maxUnavailable: %d of %d replicas; want 1", n, wantReplicas)
		}
	case p.Spec.MinAvailable != nil:
		if n := scaled(t, "minAvailable", p.Spec.MinAvailable, wantReplicas, true); n != wantReplicas-1 {
			t.Errorf("PodDisruptionBudget minAvailable: %d of %d replicas; want %d (0 protects nothing, %d blocks every drain)", n, wantReplicas, wantReplicas-1, wantReplicas)
		}
	default:
		t.Error("PodDisruptionBudget: neither minAvailable nor maxUnavailable")
	}
}

// TestIngress: if there is an Ingress, it routes WEBHOOK_URL to the Service
// over TLS, and keeps the probes and metrics private.
func TestIngress(t *testing.T) {
	b := build(t)
	if len(b.ingresses) == 0 {
		t.Skip("no Ingress")
	}
	_, c := b.bot(t)
	env := b.env(t, c)
	hook, err := url.Parse(env["WEBHOOK_URL"].value)
	if err != nil || hook.Host == "" {
		t.Fatalf("WEBHOOK_URL %q", env["WEBHOOK_URL"].value)
	}
	svc := b.services[0]
	routed, tls := false, false
	for _, ing := range b.ingresses {
		for _, tl := range ing.Spec.TLS {
			if slices.Contains(tl.Hosts, hook.Hostname()) {
				tls = true
			}
		}
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				be := p.Backend.Service
				if be == nil || be.Name != svc.Name {
					t.Errorf("Ingress %s path %s: backend is not Service %s", ing.Name, p.Path, svc.Name)
					continue
				}
				if be.Port.Number != 0 && be.Port.Number != svc.Spec.Ports[0].Port || be.Port.Name != "" && be.Port.Name != svc.Spec.Ports[0].Name {
					t.Errorf("Ingress %s path %s: backend port %+v is not the Service's", ing.Name, p.Path, be.Port)
				}
				for _, private := range []string{"/metrics", "/readyz", "/healthz"} {
					if pathMatches(p, private) {
						t.Errorf("Ingress %s path %s (%s) exposes %s publicly", ing.Name, p.Path, *p.PathType, private)
					}
				}
				if r.Host == hook.Hostname() && pathMatches(p, hook.Path) {
					routed = true
				}
			}
		}
	}
	if !routed {
		t.Errorf("no Ingress rule routes WEBHOOK_URL %s (host %s, path %s)", hook, hook.Hostname(), hook.Path)
	}
	if !tls {
		t.Errorf("no Ingress TLS entry for %s: Telegram only posts over https", hook.Hostname())
	}
}

func pathMatches(p networkingv1.HTTPIngressPath, path string) bool {
	if p.PathType != nil && *p.PathType == networkingv1.PathTypeExact {
		return p.Path == path
	}
	prefix := strings.TrimSuffix(p.Path, "/")
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// TestNamespace: every object lands in the namespace the manifests create.
func TestNamespace(t *testing.T) {
	b := build(t)
	if len(b.namespaces) > 1 {
		t.Errorf("%d Namespaces; want at most one", len(b.namespaces))
	}
	for _, o := range b.all {
		if _, isNS := o.(*corev1.Namespace); isNS {
			continue
		}
		if o.GetNamespace() == "" {
			t.Errorf("%s has no namespace (set namespace: in kustomization.yaml)", o.GetName())
		} else if len(b.namespaces) == 1 && o.GetNamespace() != b.namespaces[0].Name {
			t.Errorf("%s is in namespace %s, not %s", o.GetName(), o.GetNamespace(), b.namespaces[0].Name)
		}
	}
}
