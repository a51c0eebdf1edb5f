package triage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/oncallbot/bot/internal/incident"
)

// Kubernetes asks the cluster about the workload an alert's labels name (a
// namespace and a pod, deployment, statefulset or daemonset, or a node):
// its state, each container's restarts and last termination, the recent
// events of the object, and the last log lines of the failing container.
// It only reads, and bounds what it reads.
type Kubernetes struct {
	Client kubernetes.Interface
	// LogLines is how many of the failing container's last log lines to
	// read (default 20).
	LogLines int
	Now      func() time.Time
}

// NewKubernetes returns the source for the cluster the pod runs in
// (inCluster, through its service account) or for the current context of
// the kubeconfig file at that path.
func NewKubernetes(kubeconfig string, inCluster bool, now func() time.Time) (*Kubernetes, error) {
	var cfg *rest.Config
	var err error
	if inCluster {
		cfg, err = rest.InClusterConfig()
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = kubeconfig
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	cfg.UserAgent = "oncall-bot-triage"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	return &Kubernetes{Client: cs, Now: now}, nil
}

// Name names the source.
func (*Kubernetes) Name() string { return "kubernetes" }

// The bounds of what a triage reads from the cluster.
const (
	defaultKubeLogLines = 20
	kubeEvents          = 5        // events shown
	kubeWorstPods       = 3        // pods of a workload shown
	kubePodList         = 100      // pods of a workload read
	kubeEventList       = 200      // events of one object read
	kubeLogBytes        = 64 << 10 // log bytes read
	kubeLineRunes       = 300      // runes of one log line kept
	kubeTargets         = 3        // distinct objects one triage reads
	// kubeRolloutRecent is how recent a deployment's newest revision must
	// be to be said as what changed; kubeRolloutCulprit how shortly
	// before the alert fired for it to be the likely culprit.
	kubeRolloutRecent  = 24 * time.Hour
	kubeRolloutCulprit = 30 * time.Minute
)

// kubeTarget is the object an alert names.
type kubeTarget struct {
	kind, namespace, name string
	// container is the alert's container label, the one to read logs of.
	container string
	// fired is when the alert naming it started.
	fired time.Time
}

// kubeLabel is a label's value, the kube-state-metrics style exported_
// one first: when Prometheus scrapes kube-state-metrics, namespace and pod
// are the exporter's own and exported_namespace and exported_pod the
// object's.
func kubeLabel(labels map[string]string, k string) string {
	if v := labels["exported_"+k]; v != "" {
		return v
	}
	return labels[k]
}

// targetsOf are the distinct objects the incident's alerts name, in the
// alerts' order, kubeTargets at most: of each alert, a pod before its
// workload, a workload before a node. An incident of ten crash-looping
// pods reads three of them, not one and not ten.
func targetsOf(d incident.Detail) []kubeTarget {
	var out []kubeTarget
	seen := map[[3]string]bool{}
	for _, a := range d.Alerts {
		t, ok := targetOfAlert(a.Labels)
		if !ok {
			continue
		}
		if key := [3]string{t.kind, t.namespace, t.name}; !seen[key] {
			seen[key] = true
			t.fired = a.StartsAt
			out = append(out, t)
			if len(out) == kubeTargets {
				break
			}
		}
	}
	return out
}

// targetOfAlert is the object an alert's labels name.
func targetOfAlert(labels map[string]string) (kubeTarget, bool) {
	ns := kubeLabel(labels, "namespace")
	if ns != "" {
		for _, kind := range []string{"pod", "deployment", "statefulset", "daemonset"} {
			if name := kubeLabel(labels, kind); name != "" {
				return kubeTarget{kind: kind, namespace: ns, name: name, container: kubeLabel(labels, "container")}, true
			}
		}
	}
	if name := kubeLabel(labels, "node"); name != "" {
		return kubeTarget{kind: "node", name: name}, true
	}
	return kubeTarget{}, false
}

// kubeGather is one triage's reading of the cluster.
type kubeGather struct {
	k   *Kubernetes
	t   kubeTarget
	now time.Time
	ev  Evidence
}

// Gather reads the state of the objects the alerts name (see targetsOf),
// at once, and reports them in the alerts' order; an incident whose
// alerts name none has no evidence here. Every object unreadable fails
// the source; one of several unreadable is said in a line, as are an
// object's events or logs unreadable.
func (k *Kubernetes) Gather(ctx context.Context, d incident.Detail) (Evidence, error) {
	targets := targetsOf(d)
	if len(targets) == 0 {
		return Evidence{}, nil
	}
	now := time.Now()
	if k.Now != nil {
		now = k.Now()
	}
	gathers := make([]*kubeGather, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		gathers[i] = &kubeGather{k: k, t: t, now: now}
		wg.Go(func() { errs[i] = gathers[i].read(ctx) })
	}
	wg.Wait()
	var ev Evidence
	read := 0
	for i, g := range gathers {
		if errs[i] != nil {
			ev.Kubernetes = append(ev.Kubernetes, fmt.Sprintf("Could not read %s: %v.", g.t, errs[i]))
			continue
		}
		read++
		ev.Facts = append(ev.Facts, g.ev.Facts...)
		ev.Kubernetes = append(ev.Kubernetes, g.ev.Kubernetes...)
		ev.Logs = append(ev.Logs, g.ev.Logs...)
	}
	if read == 0 {
		return Evidence{}, errs[0]
	}
	return ev, nil
}

// read reports g's object.
func (g *kubeGather) read(ctx context.Context) error {
	switch g.t.kind {
	case "pod":
		return g.pod(ctx)
	case "node":
		return g.node(ctx)
	}
	return g.workload(ctx)
}

// String names the object as the report does: "pod prod/api-7d9",
// "node n1".
func (t kubeTarget) String() string {
	if t.namespace == "" {
		return t.kind + " " + t.name
	}
	return t.kind + " " + t.namespace + "/" + t.name
}

func (g *kubeGather) line(format string, a ...any) {
	g.ev.Kubernetes = append(g.ev.Kubernetes, fmt.Sprintf(format, a...))
}

// pod reports one pod: its state, its containers, its events and the
// failing container's log.
func (g *kubeGather) pod(ctx context.Context) error {
	ns, name := g.t.namespace, g.t.name
	p, err := g.k.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get pod %s/%s: %w", ns, name, err)
	}
	s := inspectPod(p, g.t.container)
	g.ev.Facts = append(g.ev.Facts, s.headline(g.now))
	g.ev.Kubernetes = append(g.ev.Kubernetes, s.lines(g.now, true)...)
	g.podRollout(ctx, p)
	g.events(ctx, ns, kubeObject{"Pod", name})
	g.logs(ctx, s)
	return nil
}

// podRollout follows pod p to the deployment that runs it (through its
// ReplicaSet) and says what changed there. A pod of no deployment, or an
// owner gone, says nothing.
func (g *kubeGather) podRollout(ctx context.Context, p *corev1.Pod) {
	o := metav1.GetControllerOf(p)
	if o == nil || o.Kind != "ReplicaSet" {
		return
	}
	apps := g.k.Client.AppsV1()
	rs, err := apps.ReplicaSets(p.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
	if err != nil {
		g.quietIfGone(err, "get replica set %s/%s", p.Namespace, o.Name)
		return
	}
	d := metav1.GetControllerOf(rs)
	if d == nil || d.Kind != "Deployment" {
		return
	}
	dep, err := apps.Deployments(p.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		g.quietIfGone(err, "get deployment %s/%s", p.Namespace, d.Name)
		return
	}
	if sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector); err == nil && !sel.Empty() {
		g.rollout(ctx, p.Namespace, dep.Name, sel.String())
	}
}

// quietIfGone says an error reading what changed in a line, unless the
// object is simply not there.
func (g *kubeGather) quietIfGone(err error, format string, a ...any) {
	if apierrors.IsNotFound(err) {
		return
	}
	g.line("Could not %s: %v.", fmt.Sprintf(format, a...), err)
}

// rollout says what changed in deployment ns/name: its newest revision,
// when it was made and the images it changed from the revision before,
// when that was within kubeRolloutRecent; and, when it came shortly
// before the alert fired, that too.
func (g *kubeGather) rollout(ctx context.Context, ns, name, selector string) {
	list, err := g.k.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: kubePodList})
	if err != nil {
		g.quietIfGone(err, "list the replica sets of deployment %s/%s", ns, name)
		return
	}
	var revs []*appsv1.ReplicaSet
	for i := range list.Items {
		if o := metav1.GetControllerOf(&list.Items[i]); o != nil && o.Kind == "Deployment" && o.Name == name {
			revs = append(revs, &list.Items[i])
		}
	}
	if len(revs) == 0 {
		return
	}
	sort.SliceStable(revs, func(i, j int) bool { return revision(revs[i]) > revision(revs[j]) })
	newest := revs[0]
	at := newest.CreationTimestamp.Time
	if at.IsZero() || g.now.Sub(at) > kubeRolloutRecent {
		return
	}
	what := fmt.Sprintf("revision %d %s", revision(newest), ago(g.now, at))
	if f := g.t.fired; !f.IsZero() && !at.After(f) && f.Sub(at) <= kubeRolloutCulprit {
		what += ", " + strings.TrimSuffix(ago(f, at), " ago") + " before the alert fired"
		if f.Sub(at) < time.Second {
			what = fmt.Sprintf("revision %d %s, as the alert fired", revision(newest), ago(g.now, at))
		}
	}
	changed := "its first revision"
	if len(revs) > 1 {
		changed = strings.Join(imageChanges(revs[1], newest), ", ")
		if changed == "" {
			changed = "the same images"
		}
	}
	g.line("Deployment %s/%s rolled out %s (ReplicaSet %s): %s.", ns, name, what, newest.Name, changed)
	g.ev.Facts = append(g.ev.Facts, fmt.Sprintf("What changed: deployment %s rolled out %s (%s).", name, what, changed))
}

// revision is a deployment's ReplicaSet's revision number, 0 when it
// carries none.
func revision(rs *appsv1.ReplicaSet) int {
	n, _ := strconv.Atoi(rs.Annotations["deployment.kubernetes.io/revision"])
	return n
}

// imageChanges are the containers whose image differs from one revision
// to the next, as "api: api:1.4 -> api:1.5", in the newer one's order.
func imageChanges(before, after *appsv1.ReplicaSet) []string {
	was := map[string]string{}
	for _, c := range before.Spec.Template.Spec.Containers {
		was[c.Name] = c.Image
	}
	var out []string
	for _, c := range after.Spec.Template.Spec.Containers {
		switch old, ok := was[c.Name]; {
		case !ok:
			out = append(out, fmt.Sprintf("%s added (%s)", c.Name, c.Image))
		case old != c.Image:
			out = append(out, fmt.Sprintf("%s: %s -> %s", c.Name, old, c.Image))
		}
	}
	return out
}

// workload reports a deployment, statefulset or daemonset: its replicas,
// its conditions that are wrong, and its worst pods as pod reports.
func (g *kubeGather) workload(ctx context.Context) error {
	ns, name := g.t.namespace, g.t.name
	apps := g.k.Client.AppsV1()
	var (
		kind                           string
		sel                            *metav1.LabelSelector
		desired, ready, updated, avail int32
		conds                          []string
		unit                           = "replicas"
		extra                          string
	)
	switch g.t.kind {
	case "deployment":
		o, err := apps.Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get deployment %s/%s: %w", ns, name, err)
		}
		kind, sel, desired = "Deployment", o.Spec.Selector, replicas(o.Spec.Replicas)
		ready, updated, avail = o.Status.ReadyReplicas, o.Status.UpdatedReplicas, o.Status.AvailableReplicas
		for _, c := range o.Status.Conditions {
			if (c.Type == appsv1.DeploymentReplicaFailure) == (c.Status == corev1.ConditionTrue) {
				conds = append(conds, condition(string(c.Type), c.Status, c.Reason, c.Message, c.LastTransitionTime.Time, g.now))
			}
		}
		if o.Spec.Paused {
			extra = ", paused"
		}
	case "statefulset":
		o, err := apps.StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get statefulset %s/%s: %w", ns, name, err)
		}
		kind, sel, desired = "StatefulSet", o.Spec.Selector, replicas(o.Spec.Replicas)
		ready, updated, avail = o.Status.ReadyReplicas, o.Status.UpdatedReplicas, o.Status.AvailableReplicas
		if o.Status.UpdateRevision != "" && o.Status.CurrentRevision != o.Status.UpdateRevision {
			extra = ", rolling out revision " + o.Status.UpdateRevision
		}
	case "daemonset":
		o, err := apps.DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get daemonset %s/%s: %w", ns, name, err)
		}
		kind, sel, unit = "DaemonSet", o.Spec.Selector, "pods"
		desired, ready, updated, avail = o.Status.DesiredNumberScheduled, o.Status.NumberReady, o.Status.UpdatedNumberScheduled, o.Status.NumberAvailable
		if n := o.Status.NumberMisscheduled; n > 0 {
			extra = fmt.Sprintf(", %d misscheduled", n)
		}
	}
	g.line("%s %s/%s: %d/%d ready, %d updated, %d available%s.", kind, ns, name, ready, desired, updated, avail, extra)
	g.ev.Kubernetes = append(g.ev.Kubernetes, conds...)
	switch {
	case desired == 0:
		g.ev.Facts = append(g.ev.Facts, fmt.Sprintf("%s %s in %s is scaled to 0.", kind, name, ns))
	case ready < desired:
		g.ev.Facts = append(g.ev.Facts, fmt.Sprintf("%s %s in %s has %d of %d %s ready.", kind, name, ns, ready, desired, unit))
	default:
		g.ev.Facts = append(g.ev.Facts, fmt.Sprintf("%s %s in %s has all %d %s ready.", kind, name, ns, desired, unit))
	}

	objects := []kubeObject{{kind, name}}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || selector.Empty() {
		// No selector (or one matching everything) names no pods of its own.
		g.events(ctx, ns, objects...)
		return nil
	}
	if kind == "Deployment" {
		g.rollout(ctx, ns, name, selector.String())
	}
	list, err := g.k.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector.String(), Limit: kubePodList})
	if err != nil {
		return fmt.Errorf("list the pods of %s %s/%s: %w", strings.ToLower(kind), ns, name, err)
	}
	pods := make([]podState, len(list.Items))
	var unhealthy int
	var restarts int32
	for i := range list.Items {
		pods[i] = inspectPod(&list.Items[i], g.t.container)
		if pods[i].bad {
			unhealthy++
		}
		restarts += pods[i].restarts
	}
	sort.SliceStable(pods, func(i, j int) bool { return pods[i].worse(pods[j]) })
	more := ""
	if list.Continue != "" {
		more = " (the first " + fmt.Sprint(kubePodList) + ")"
	}
	switch {
	case len(pods) == 0:
		g.line("No pods match its selector %s.", selector)
	case len(pods) > kubeWorstPods:
		g.line("%d pods%s, %d not healthy, %d restart%s in all; the worst %d:", len(pods), more, unhealthy, restarts, plural(int(restarts)), kubeWorstPods)
	default:
		g.line("%d pod%s, %d not healthy, %d restart%s in all; the worst first:", len(pods), plural(len(pods)), unhealthy, restarts, plural(int(restarts)))
	}
	for _, s := range pods[:min(len(pods), kubeWorstPods)] {
		g.ev.Kubernetes = append(g.ev.Kubernetes, s.lines(g.now, false)...)
	}
	if len(pods) > 0 && (pods[0].bad || pods[0].restarts > 0) {
		worst := pods[0]
		g.ev.Facts = append(g.ev.Facts, worst.headline(g.now))
		objects = append(objects, kubeObject{"Pod", worst.pod.Name})
		g.events(ctx, ns, objects...)
		g.logs(ctx, worst)
		return nil
	}
	g.events(ctx, ns, objects...)
	return nil
}

func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

// node reports a node: Ready, the pressure conditions, cordoned, events.
func (g *kubeGather) node(ctx context.Context) error {
	name := g.t.name
	n, err := g.k.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", name, err)
	}
	state, since, why := "NotReady (no Ready condition)", "", ""
	var pressures []string
	for _, c := range n.Status.Conditions {
		switch {
		case c.Type == corev1.NodeReady:
			switch c.Status {
			case corev1.ConditionTrue:
				state = "Ready"
			case corev1.ConditionFalse:
				state = "NotReady"
			default:
				state = "NotReady (status " + string(c.Status) + ")"
			}
			since = ago(g.now, c.LastTransitionTime.Time)
			why = reasonMessage(c.Reason, c.Message)
		case c.Status == corev1.ConditionTrue:
			// MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable
			// and the like: true is wrong.
			pressures = append(pressures, string(c.Type))
			g.ev.Kubernetes = append(g.ev.Kubernetes, condition(string(c.Type), c.Status, c.Reason, c.Message, c.LastTransitionTime.Time, g.now))
		}
	}
	line := "Node " + name + ": " + state
	if since != "" {
		line += " since " + since
	}
	if why != "" && state != "Ready" {
		line += " (" + why + ")"
	}
	if n.Spec.Unschedulable {
		line += ", cordoned"
	}
	g.ev.Kubernetes = append([]string{line + "."}, g.ev.Kubernetes...)
	fact := "Node " + name + " is " + state
	if since != "" && state != "Ready" {
		fact += " since " + since
	}
	switch {
	case len(pressures) > 0 && state == "Ready":
		fact += " but has " + strings.Join(pressures, ", ")
	case len(pressures) > 0:
		fact += ", with " + strings.Join(pressures, ", ")
	}
	if n.Spec.Unschedulable {
		fact += " (cordoned)"
	}
	g.ev.Facts = append(g.ev.Facts, fact+".")
	g.events(ctx, metav1.NamespaceAll, kubeObject{"Node", name})
	return nil
}

// condition is a line on an object's condition.
func condition(typ string, status corev1.ConditionStatus, reason, message string, at time.Time, now time.Time) string {
	line := typ + " " + string(status)
	if a := ago(now, at); a != "" {
		line += " since " + a
	}
	if rm := reasonMessage(reason, message); rm != "" {
		line += ": " + rm
	}
	return line + "."
}

func reasonMessage(reason, message string) string {
	message = short(message, 200)
	switch {
	case reason != "" && message != "":
		return reason + ": " + message
	case reason != "":
		return reason
	}
	return message
}

// podState is what a pod's status says.
type podState struct {
	pod          *corev1.Pod
	ready, total int
	restarts     int32
	// bad is a pod that is not running and ready (or done).
	bad bool
	// failing is the container to read the log of (restarting, waiting
	// or not ready; the alert's own when it names one), nil for none.
	failing *corev1.ContainerStatus
	init    bool // failing is an init container
}

// inspectPod reads a pod's status; container is the alert's container
// label ("" for none).
func inspectPod(p *corev1.Pod, container string) podState {
	s := podState{pod: p, total: len(p.Spec.Containers)}
	for _, c := range p.Status.ContainerStatuses {
		if c.Ready {
			s.ready++
		}
		s.restarts += c.RestartCount
	}
	for _, c := range p.Status.InitContainerStatuses {
		s.restarts += c.RestartCount
	}
	switch p.Status.Phase {
	case corev1.PodSucceeded:
	case corev1.PodRunning:
		s.bad = s.ready < s.total
	default:
		s.bad = true
	}
	// The failing container: the alert's, else the worst of those in a
	// bad state, else the one restarted most.
	var best *corev1.ContainerStatus
	bestBad, bestInit := false, false
	lists := []struct {
		list []corev1.ContainerStatus
		init bool
	}{{p.Status.InitContainerStatuses, true}, {p.Status.ContainerStatuses, false}}
	for _, l := range lists {
		for i := range l.list {
			if c := &l.list[i]; container != "" && c.Name == container && best == nil {
				best, bestInit = c, l.init
			}
		}
	}
	for _, l := range lists {
		for i := range l.list {
			c := &l.list[i]
			if container != "" && best != nil && best.Name == container {
				break
			}
			b := containerBad(c, l.init)
			if !b && c.RestartCount == 0 {
				continue
			}
			if best == nil || (b && !bestBad) || (b == bestBad && c.RestartCount > best.RestartCount) {
				best, bestBad, bestInit = c, b, l.init
			}
		}
	}
	s.failing, s.init = best, bestInit
	if best != nil && containerBad(best, bestInit) {
		s.bad = true
	}
	return s
}

// containerBad is a container waiting for a wrong reason, terminated in
// error, or (not an init container) running and not ready.
func containerBad(c *corev1.ContainerStatus, init bool) bool {
	switch {
	case c.State.Waiting != nil:
		r := c.State.Waiting.Reason
		return r != "ContainerCreating" && r != "PodInitializing"
	case c.State.Terminated != nil:
		return c.State.Terminated.ExitCode != 0
	}
	return !init && !c.Ready
}

// worse orders pods worst first: not healthy, then most restarted.
func (s podState) worse(o podState) bool {
	if s.bad != o.bad {
		return s.bad
	}
	if s.restarts != o.restarts {
		return s.restarts > o.restarts
	}
	return s.pod.Name < o.pod.Name
}

func (s podState) phase() string {
	if s.pod.DeletionTimestamp != nil {
		return "Terminating"
	}
	if s.pod.Status.Phase == "" {
		return "Unknown"
	}
	return string(s.pod.Status.Phase)
}

// headline is the pod in one sentence, for the summary.
func (s podState) headline(now time.Time) string {
	p := s.pod
	who := "Pod " + p.Name + " in " + p.Namespace
	c := s.failing
	if c != nil && len(p.Spec.Containers)+len(p.Spec.InitContainers) > 1 {
		kind := "Container "
		if s.init {
			kind = "Init container "
		}
		who = kind + c.Name + " of pod " + p.Name + " in " + p.Namespace
	}
	var out string
	switch {
	case c != nil && c.RestartCount > 0:
		out = fmt.Sprintf("%s restarted %d time%s", who, c.RestartCount, plural(int(c.RestartCount)))
		if t := c.LastTerminationState.Terminated; t != nil {
			out += ", last " + terminatedWhat(t)
			if a := ago(now, t.FinishedAt.Time); a != "" {
				out += " " + a
			}
		}
		if w := c.State.Waiting; w != nil && w.Reason != "" {
			out += ", now in " + w.Reason
		}
	case c != nil && c.State.Waiting != nil && containerBad(c, s.init):
		out = who + " is waiting: " + c.State.Waiting.Reason
	case c != nil && c.State.Terminated != nil && c.State.Terminated.ExitCode != 0:
		out = who + " " + terminatedWhat(c.State.Terminated)
	case s.pod.Status.Phase == corev1.PodRunning && s.ready < s.total:
		out = fmt.Sprintf("Pod %s in %s is Running but not ready (%d/%d containers)", p.Name, p.Namespace, s.ready, s.total)
	case s.phase() == "Running" || s.phase() == "Succeeded":
		out = fmt.Sprintf("Pod %s in %s is %s and ready, with no restarts", p.Name, p.Namespace, s.phase())
	default:
		out = fmt.Sprintf("Pod %s in %s is %s", p.Name, p.Namespace, s.phase())
		if r := p.Status.Reason; r != "" {
			out += ": " + r
		} else if r := unscheduled(p); r != "" {
			out += ": " + r
		}
	}
	return out + "."
}

// unscheduled is why a pod is not scheduled, "" when it is.
func unscheduled(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
			if c.Reason != "" {
				return c.Reason
			}
			return "not scheduled"
		}
	}
	return ""
}

// lines are the pod's state and its containers' (all of them, or only
// those in trouble).
func (s podState) lines(now time.Time, all bool) []string {
	p := s.pod
	line := fmt.Sprintf("Pod %s/%s: %s", p.Namespace, p.Name, s.phase())
	if rm := reasonMessage(p.Status.Reason, p.Status.Message); rm != "" {
		line += " (" + rm + ")"
	}
	line += fmt.Sprintf(", %d/%d ready, %d restart%s", s.ready, s.total, s.restarts, plural(int(s.restarts)))
	if n := p.Spec.NodeName; n != "" {
		line += ", on node " + n
	}
	if o := metav1.GetControllerOf(p); o != nil {
		line += ", of " + o.Kind + " " + o.Name
	}
	if p.Status.StartTime != nil {
		if a := ago(now, p.Status.StartTime.Time); a != "" {
			line += ", started " + a
		}
	}
	out := []string{line + "."}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
			out = append(out, "  "+condition("Scheduled", c.Status, c.Reason, c.Message, c.LastTransitionTime.Time, now))
		}
	}
	add := func(list []corev1.ContainerStatus, init bool) {
		for i := range list {
			c := &list[i]
			if init && c.State.Terminated != nil && c.State.Terminated.ExitCode == 0 && c.RestartCount == 0 {
				continue // an init container that did its work
			}
			if !all && !containerBad(c, init) && c.RestartCount == 0 {
				continue
			}
			out = append(out, "  "+containerLine(c, init, now))
		}
	}
	add(p.Status.InitContainerStatuses, true)
	add(p.Status.ContainerStatuses, false)
	return out
}

// containerLine is one container's state, restarts and last termination.
func containerLine(c *corev1.ContainerStatus, init bool, now time.Time) string {
	kind := "container "
	if init {
		kind = "init container "
	}
	ready := "ready"
	if !c.Ready {
		ready = "not ready"
	}
	var state string
	switch {
	case c.State.Waiting != nil:
		state = "waiting: " + reasonMessage(c.State.Waiting.Reason, c.State.Waiting.Message)
	case c.State.Running != nil:
		state = "running"
		if a := ago(now, c.State.Running.StartedAt.Time); a != "" {
			state += " since " + a
		}
	case c.State.Terminated != nil:
		state = "terminated: " + terminated(c.State.Terminated, now)
	default:
		state = "no state yet"
	}
	line := fmt.Sprintf("%s%s: %s, %s, %d restart%s", kind, c.Name, ready, state, c.RestartCount, plural(int(c.RestartCount)))
	if t := c.LastTerminationState.Terminated; t != nil {
		line += "; last terminated: " + terminated(t, now)
	}
	return line + "."
}

// terminatedWhat is how a container ended, for a sentence: "OOMKilled",
// "exited with code 1 (Error)".
func terminatedWhat(t *corev1.ContainerStateTerminated) string {
	switch t.Reason {
	case "OOMKilled", "Completed", "ContainerCannotRun", "DeadlineExceeded", "Evicted":
		return t.Reason
	case "", "Error":
		return fmt.Sprintf("exited with code %d", t.ExitCode)
	}
	return fmt.Sprintf("exited with code %d (%s)", t.ExitCode, t.Reason)
}

// terminated is a termination in full: reason, exit code, signal, when,
// message.
func terminated(t *corev1.ContainerStateTerminated, now time.Time) string {
	reason := t.Reason
	if reason == "" {
		reason = "exited"
	}
	s := fmt.Sprintf("%s, exit code %d", reason, t.ExitCode)
	if t.Signal != 0 {
		s += fmt.Sprintf(", signal %d", t.Signal)
	}
	if a := ago(now, t.FinishedAt.Time); a != "" {
		s += ", " + a
	}
	if m := short(t.Message, 200); m != "" {
		s += " (" + m + ")"
	}
	return s
}

// kubeObject is an object events are about.
type kubeObject struct{ kind, name string }

// events adds the last events of the objects (in namespace ns, or all of
// them for a node's), warnings first, newest first. Events that cannot be
// read are said, not fatal: the object's state stands.
func (g *kubeGather) events(ctx context.Context, ns string, objects ...kubeObject) {
	var all []corev1.Event
	for _, o := range objects {
		sel := fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.kind", o.kind), fields.OneTermEqualSelector("involvedObject.name", o.name))
		list, err := g.k.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel.String(), Limit: kubeEventList})
		if err != nil {
			g.line("The events of %s %s are not readable: %v.", strings.ToLower(o.kind), o.name, err)
			continue
		}
		for _, e := range list.Items {
			// The field selector says so already; a server (or a fake)
			// that ignores it must not mix other objects' events in.
			if e.InvolvedObject.Kind == o.kind && e.InvolvedObject.Name == o.name {
				all = append(all, e)
			}
		}
	}
	if len(all) == 0 {
		return
	}
	sortEvents(all)
	for _, e := range all[:min(len(all), kubeEvents)] {
		g.line("%s", eventLine(e, g.now))
	}
}

// sortEvents orders events warnings first, then newest first.
func sortEvents(ev []corev1.Event) {
	sort.SliceStable(ev, func(i, j int) bool {
		wi, wj := ev[i].Type == corev1.EventTypeWarning, ev[j].Type == corev1.EventTypeWarning
		if wi != wj {
			return wi
		}
		return eventTime(ev[i]).After(eventTime(ev[j]))
	})
}

// eventTime is when an event was last seen.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// eventLine is "Warning BackOff on Pod api-7d9 (x12), 1m ago: Back-off
// restarting failed container".
func eventLine(e corev1.Event, now time.Time) string {
	line := e.Type + " " + e.Reason + " on " + e.InvolvedObject.Kind + " " + e.InvolvedObject.Name
	count := e.Count
	if e.Series != nil && e.Series.Count > count {
		count = e.Series.Count
	}
	if count > 1 {
		line += fmt.Sprintf(" (x%d)", count)
	}
	if a := ago(now, eventTime(e)); a != "" {
		line += ", " + a
	}
	return line + ": " + short(e.Message, 200)
}

// logs adds the last lines of the pod's failing container to the
// evidence's Logs: the run that crashed when it has terminated since
// (Previous), else the current one. Logs that cannot be read are said,
// not fatal.
func (g *kubeGather) logs(ctx context.Context, s podState) {
	c := s.failing
	if c == nil {
		return
	}
	n := int64(g.k.LogLines)
	if n <= 0 {
		n = defaultKubeLogLines
	}
	limit := int64(kubeLogBytes)
	previous := c.State.Terminated == nil && c.LastTerminationState.Terminated != nil
	opts := &corev1.PodLogOptions{Container: c.Name, Previous: previous, TailLines: &n, LimitBytes: &limit}
	which := "its current run"
	if previous {
		which = "its previous run, the one that ended"
	}
	lines, err := g.readLogs(ctx, s.pod, opts)
	if err != nil {
		g.line("The log of container %s of pod %s/%s is not readable: %v.", c.Name, s.pod.Namespace, s.pod.Name, err)
		return
	}
	if len(lines) == 0 {
		g.line("Container %s of pod %s logged nothing in %s.", c.Name, s.pod.Name, which)
		return
	}
	// The lines themselves go with the other log lines (the report shows
	// them once, and the AI reads them once), each named by its container.
	g.line("Read the last %d log line%s of container %s of pod %s (%s).", len(lines), plural(len(lines)), c.Name, s.pod.Name, which)
	for _, l := range lines {
		g.ev.Logs = append(g.ev.Logs, c.Name+": "+l)
	}
}

// readLogs reads at most kubeLogBytes of the log and keeps its last
// TailLines lines, each cut to kubeLineRunes.
func (g *kubeGather) readLogs(ctx context.Context, p *corev1.Pod, opts *corev1.PodLogOptions) ([]string, error) {
	rc, err := g.k.Client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, opts).Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, kubeLogBytes))
	if err != nil {
		return nil, err
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), kubeLogBytes)
	for sc.Scan() {
		if l := strings.TrimRight(sc.Text(), " \t\r"); l != "" {
			if r := []rune(l); len(r) > kubeLineRunes {
				l = string(r[:kubeLineRunes-1]) + "…"
			}
			lines = append(lines, l)
		}
	}
	if n := int(*opts.TailLines); len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}

// ago is how long before now t was ("3m ago"), "" for a zero time.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh ago", h)
		}
		return fmt.Sprintf("%dh%dm ago", h, m)
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}

// short is s on one line and at most n runes.
func short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
