package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/oncallbot/bot/internal/incident"
)

// kubeNow is the triage's clock in these tests.
var kubeNow = opened.Add(10 * time.Minute)

// ago0 is a time d before kubeNow.
func ago0(d time.Duration) metav1.Time { return metav1.NewTime(kubeNow.Add(-d)) }

func kubeDetail(labels map[string]string) incident.Detail {
	d := detail()
	d.Alerts = []incident.Alert{{Labels: labels, StartsAt: opened}}
	return d
}

// crashingPod is a pod whose container api was OOMKilled 3m ago, restarted
// five times and is in CrashLoopBackOff; its sidecar is fine.
func crashingPod(ns, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "api-7d9", Controller: new(true)}}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "api"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: new(ago0(2 * time.Hour)),
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "api", RestartCount: 5,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
					Message: "back-off 2m40s restarting failed container=api pod=" + name}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137,
					StartedAt: ago0(4 * time.Minute), FinishedAt: ago0(3 * time.Minute)}},
			}}},
	}
}

func healthyPod(ns, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "api", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago0(time.Hour)}}}}},
	}
}

func event(ns, name, kind, typ, reason, msg string, count int32, last time.Duration) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%s.%d", name, strings.ToLower(reason), last), Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: ns},
		Type:           typ, Reason: reason, Message: msg, Count: count, LastTimestamp: ago0(last),
	}
}

// inOrder checks that each of want is in one of lines, each after the
// last one found.
func inOrder(t *testing.T, lines []string, want []string) {
	t.Helper()
	i := 0
	for _, w := range want {
		for i < len(lines) && !strings.Contains(lines[i], w) {
			i++
		}
		if i == len(lines) {
			t.Errorf("no line with %q (in order) in:\n%s", w, strings.Join(lines, "\n"))
			return
		}
		i++
	}
}

func TestKubernetesSource(t *testing.T) {
	const crashLog = "starting api\nloading cache\nfatal: out of memory\n"
	deployment := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "prod"},
		Spec:       appsv1.DeploymentSpec{Replicas: new(int32(3)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}},
		Status: appsv1.DeploymentStatus{ReadyReplicas: 1, UpdatedReplicas: 3, AvailableReplicas: 1, Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability.", LastTransitionTime: ago0(4 * time.Minute)},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
		}},
	}
	pending := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api-c", Namespace: "prod", Labels: map[string]string{"app": "api"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient memory."}}},
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasInsufficientMemory", Message: "kubelet has insufficient memory available", LastTransitionTime: ago0(7 * time.Minute)},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure"},
			{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: "PLEG is not healthy", LastTransitionTime: ago0(5 * time.Minute)},
		}},
	}
	cases := []struct {
		name     string
		labels   map[string]string
		objects  []runtime.Object
		logLines int
		facts    []string
		lines    []string // substrings of Evidence.Kubernetes, in order
		logs     []string
		// logOpts is what the log was asked with, nil for not asked.
		logOpts *corev1.PodLogOptions
		err     string
	}{
		{
			name:   "crashlooping pod, last OOMKilled",
			labels: map[string]string{"alertname": "KubePodCrashLooping", "namespace": "prod", "pod": "api-7d9", "container": "api"},
			objects: []runtime.Object{crashingPod("prod", "api-7d9", nil),
				event("prod", "api-7d9", "Pod", "Warning", "BackOff", "Back-off restarting failed container api", 12, time.Minute),
				event("prod", "api-7d9", "Pod", "Normal", "Pulled", "Container image \"api:1.4\" already present on machine", 6, 3*time.Minute),
				event("prod", "api-other", "Pod", "Warning", "Failed", "someone else's event", 1, 0)},
			facts: []string{"Pod api-7d9 in prod restarted 5 times, last OOMKilled 3m ago, now in CrashLoopBackOff."},
			lines: []string{
				"Pod prod/api-7d9: Running, 0/1 ready, 5 restarts, on node n1, of ReplicaSet api-7d9, started 2h ago.",
				"container api: not ready, waiting: CrashLoopBackOff: back-off 2m40s restarting failed container=api pod=api-7d9, 5 restarts; last terminated: OOMKilled, exit code 137, 3m ago.",
				"Warning BackOff on Pod api-7d9 (x12), 1m ago: Back-off restarting failed container api",
				"Normal Pulled on Pod api-7d9 (x6), 3m ago",
				"Read the last 3 log lines of container api of pod api-7d9 (its previous run, the one that ended).",
			},
			logs:    []string{"api: starting api", "api: loading cache", "api: fatal: out of memory"},
			logOpts: &corev1.PodLogOptions{Container: "api", Previous: true, TailLines: new(int64(20)), LimitBytes: new(int64(kubeLogBytes))},
		},
		{
			name:     "kube-state-metrics labels name the object, not the exporter",
			labels:   map[string]string{"namespace": "monitoring", "pod": "kube-state-metrics-0", "exported_namespace": "prod", "exported_pod": "api-7d9"},
			objects:  []runtime.Object{crashingPod("prod", "api-7d9", nil)},
			logLines: 2,
			facts:    []string{"Pod api-7d9 in prod restarted 5 times, last OOMKilled 3m ago, now in CrashLoopBackOff."},
			lines:    []string{"Pod prod/api-7d9: Running", "Read the last 2 log lines of container api"},
			logs:     []string{"api: loading cache", "api: fatal: out of memory"},
			logOpts:  &corev1.PodLogOptions{Container: "api", Previous: true, TailLines: new(int64(2)), LimitBytes: new(int64(kubeLogBytes))},
		},
		{
			name:   "deployment with 1 of 3 ready",
			labels: map[string]string{"alertname": "KubeDeploymentReplicasMismatch", "namespace": "prod", "deployment": "api"},
			objects: []runtime.Object{deployment,
				healthyPod("prod", "api-a", map[string]string{"app": "api"}),
				crashingPod("prod", "api-b", map[string]string{"app": "api"}),
				pending,
				crashingPod("prod", "web-1", map[string]string{"app": "web"}), // not the deployment's
				event("prod", "api", "Deployment", "Normal", "ScalingReplicaSet", "Scaled up replica set api-7d9 to 3", 1, 9*time.Minute),
				event("prod", "api-b", "Pod", "Warning", "BackOff", "Back-off restarting failed container api", 4, 30*time.Second)},
			facts: []string{"Deployment api in prod has 1 of 3 replicas ready.", "Pod api-b in prod restarted 5 times, last OOMKilled 3m ago, now in CrashLoopBackOff."},
			lines: []string{
				"Deployment prod/api: 1/3 ready, 3 updated, 1 available.",
				"Available False since 4m ago: MinimumReplicasUnavailable: Deployment does not have minimum availability.",
				"3 pods, 2 not healthy, 5 restarts in all; the worst first:",
				"Pod prod/api-b: Running, 0/1 ready, 5 restarts",
				"  container api: not ready, waiting: CrashLoopBackOff",
				"Pod prod/api-c: Pending, 0/1 ready, 0 restarts.",
				"  Scheduled False: Unschedulable: 0/3 nodes are available: 3 Insufficient memory.",
				"Pod prod/api-a: Running, 1/1 ready, 0 restarts.",
				"Warning BackOff on Pod api-b (x4), 30s ago",
				"Normal ScalingReplicaSet on Deployment api, 9m ago: Scaled up replica set api-7d9 to 3",
				"Read the last 3 log lines of container api of pod api-b",
			},
			logs:    []string{"api: starting api", "api: loading cache", "api: fatal: out of memory"},
			logOpts: &corev1.PodLogOptions{Container: "api", Previous: true, TailLines: new(int64(20)), LimitBytes: new(int64(kubeLogBytes))},
		},
		{
			name:   "node NotReady with MemoryPressure",
			labels: map[string]string{"alertname": "KubeNodeNotReady", "node": "n1"},
			objects: []runtime.Object{node,
				event("default", "n1", "Node", "Normal", "NodeHasInsufficientMemory", "Node n1 status is now: NodeHasInsufficientMemory", 1, 7*time.Minute),
				event("default", "n1", "Node", "Warning", "EvictionThresholdMet", "Attempting to reclaim memory", 3, 6*time.Minute)},
			facts: []string{"Node n1 is NotReady since 5m ago, with MemoryPressure."},
			lines: []string{
				"Node n1: NotReady since 5m ago (KubeletNotReady: PLEG is not healthy).",
				"MemoryPressure True since 7m ago: KubeletHasInsufficientMemory: kubelet has insufficient memory available.",
				"Warning EvictionThresholdMet on Node n1 (x3), 6m ago: Attempting to reclaim memory",
				"Normal NodeHasInsufficientMemory on Node n1, 7m ago",
			},
		},
		{
			name:    "no workload labels",
			labels:  map[string]string{"alertname": "DiskFull", "instance": "db-03", "namespace": "prod"},
			objects: []runtime.Object{crashingPod("prod", "api-7d9", nil)},
		},
		{
			name:   "pod not found",
			labels: map[string]string{"namespace": "prod", "pod": "api-gone"},
			err:    `get pod prod/api-gone: pods "api-gone" not found`,
		},
		{
			name:   "deployment not found",
			labels: map[string]string{"namespace": "prod", "deployment": "api"},
			err:    `get deployment prod/api: deployments.apps "api" not found`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs := fake.NewClientset(c.objects...)
			var logOpts *corev1.PodLogOptions
			cs.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "log" {
					return false, nil, nil
				}
				logOpts = a.(k8stesting.GenericAction).GetValue().(*corev1.PodLogOptions)
				return true, &runtime.Unknown{Raw: []byte(crashLog)}, nil
			})
			k := &Kubernetes{Client: cs, LogLines: c.logLines, Now: func() time.Time { return kubeNow }}
			ev, err := k.Gather(context.Background(), kubeDetail(c.labels))
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				if !apierrors.IsNotFound(err) {
					t.Errorf("err %v does not wrap the API's NotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(ev.Facts, "|") != strings.Join(c.facts, "|") {
				t.Errorf("facts = %q\nwant    %q", ev.Facts, c.facts)
			}
			inOrder(t, ev.Kubernetes, c.lines)
			if len(c.lines) == 0 && len(ev.Kubernetes) > 0 {
				t.Errorf("lines = %q, want none", ev.Kubernetes)
			}
			if strings.Join(ev.Logs, "|") != strings.Join(c.logs, "|") {
				t.Errorf("logs = %q, want %q", ev.Logs, c.logs)
			}
			if got, want := fmt.Sprintf("%+v", logOpts), fmt.Sprintf("%+v", c.logOpts); (logOpts == nil) != (c.logOpts == nil) ||
				(logOpts != nil && (logOpts.Container != c.logOpts.Container || logOpts.Previous != c.logOpts.Previous ||
					*logOpts.TailLines != *c.logOpts.TailLines || *logOpts.LimitBytes != *c.logOpts.LimitBytes)) {
				t.Errorf("log options = %s, want %s", got, want)
			}
			for _, l := range ev.Kubernetes {
				if strings.Contains(l, "someone else") || strings.Contains(l, "web-1") {
					t.Errorf("another object's state in the report: %q", l)
				}
				if strings.Contains(l, "fatal: out of memory") {
					t.Errorf("a log line among the cluster's lines (they go in Logs, once): %q", l)
				}
			}
			// What it reads is bounded: lists carry a limit, events a
			// field selector naming the object.
			for _, a := range cs.Actions() {
				if l, ok := a.(k8stesting.ListAction); ok {
					r := l.GetListRestrictions()
					if a.GetResource().Resource == "events" && !strings.Contains(fmt.Sprint(r.Fields), "involvedObject.name=") {
						t.Errorf("events listed without naming the object: %v", r.Fields)
					}
				}
				if a.GetVerb() != "get" && a.GetVerb() != "list" {
					t.Errorf("a triage wrote to the cluster: %s %s", a.GetVerb(), a.GetResource())
				}
			}
			if len(c.labels) > 0 && len(c.facts) == 0 && len(cs.Actions()) > 0 {
				t.Errorf("no workload named, yet it asked: %v", cs.Actions())
			}
		})
	}
}

// An incident whose alerts name several objects gets up to three of
// them, each once, in the alerts' order, read at once; one unreadable is
// said in a line and the rest stand; all unreadable fail the source.
func TestKubernetesSeveralObjects(t *testing.T) {
	alerts := func(labels ...map[string]string) incident.Detail {
		d := detail()
		d.Alerts = nil
		for _, l := range labels {
			d.Alerts = append(d.Alerts, incident.Alert{Labels: l, StartsAt: opened})
		}
		return d
	}
	pod := func(name string) map[string]string {
		return map[string]string{"alertname": "KubePodCrashLooping", "namespace": "prod", "pod": name, "container": "api"}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", LastTransitionTime: ago0(5 * time.Minute)}}}}
	cs := fake.NewClientset(crashingPod("prod", "api-a", nil), crashingPod("prod", "api-d", nil), node)
	k := &Kubernetes{Client: cs, Now: func() time.Time { return kubeNow }}
	ev, err := k.Gather(context.Background(), alerts(pod("api-a"), pod("api-a"), pod("api-gone"), map[string]string{"node": "n1"}, pod("api-d")))
	if err != nil {
		t.Fatal(err)
	}
	wantFacts := []string{"Pod api-a in prod restarted 5 times, last OOMKilled 3m ago, now in CrashLoopBackOff.", "Node n1 is NotReady since 5m ago."}
	if strings.Join(ev.Facts, "|") != strings.Join(wantFacts, "|") {
		t.Errorf("facts = %q\nwant    %q", ev.Facts, wantFacts)
	}
	inOrder(t, ev.Kubernetes, []string{"Pod prod/api-a: Running", `Could not read pod prod/api-gone: get pod prod/api-gone: pods "api-gone" not found.`, "Node n1: NotReady"})
	for _, a := range cs.Actions() {
		if g, ok := a.(k8stesting.GetAction); ok && g.GetName() == "api-d" {
			t.Errorf("a fourth object was read: %s %s", a.GetVerb(), g.GetName())
		}
	}
	if _, err := k.Gather(context.Background(), alerts(pod("gone-1"), pod("gone-2"))); err == nil || !strings.Contains(err.Error(), `"gone-1" not found`) {
		t.Errorf("every object unreadable: err = %v, want the first one's", err)
	}
}

// What changed: a deployment's newest revision, when it came and the
// images it changed, said for the deployment and for a pod it runs
// (through the pod's ReplicaSet); one shortly before the alert fired is
// the likely culprit; one days old, or of no deployment, says nothing.
func TestKubernetesWhatChanged(t *testing.T) {
	sel := map[string]string{"app": "api"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "prod", UID: "dep-uid"},
		Spec: appsv1.DeploymentSpec{Replicas: new(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: sel}}, Status: appsv1.DeploymentStatus{ReadyReplicas: 1}}
	rs := func(name string, rev int, image string, age time.Duration) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "prod", Labels: sel, CreationTimestamp: ago0(age),
				Annotations:     map[string]string{"deployment.kubernetes.io/revision": fmt.Sprint(rev)},
				OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "api", Controller: new(true)}}},
			Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: image}, {Name: "proxy", Image: "envoy:1.30"}}}}},
		}
	}
	// kubeNow is 10m after the alert fired.
	cases := []struct {
		name    string
		labels  map[string]string
		objects []runtime.Object
		fact    string // "" for none said
		culprit string
	}{
		{"deployment, 2m before it fired", map[string]string{"namespace": "prod", "deployment": "api"},
			[]runtime.Object{dep, rs("api-6c8", 6, "api:1.4", 3*time.Hour), rs("api-7d9", 7, "api:1.5", 12*time.Minute), healthyPod("prod", "api-a", sel)},
			"What changed: deployment api rolled out revision 7 12m ago, 2m before the alert fired (api: api:1.4 -> api:1.5).", "a rollout just before it fired"},
		{"a pod it runs", map[string]string{"namespace": "prod", "pod": "api-7d9"},
			[]runtime.Object{dep, rs("api-6c8", 6, "api:1.4", 3*time.Hour), rs("api-7d9", 7, "api:1.5", 12*time.Minute), crashingPod("prod", "api-7d9", sel)},
			"What changed: deployment api rolled out revision 7 12m ago, 2m before the alert fired (api: api:1.4 -> api:1.5).", "a container ran out of memory"},
		{"after it fired", map[string]string{"namespace": "prod", "deployment": "api"},
			[]runtime.Object{dep, rs("api-6c8", 6, "api:1.4", 3*time.Hour), rs("api-7d9", 7, "api:1.4", 5*time.Minute)},
			"What changed: deployment api rolled out revision 7 5m ago (the same images).", ""},
		{"days ago", map[string]string{"namespace": "prod", "deployment": "api"},
			[]runtime.Object{dep, rs("api-7d9", 7, "api:1.5", 72*time.Hour)}, "", ""},
		{"a pod of no deployment", map[string]string{"namespace": "prod", "pod": "api-7d9"},
			[]runtime.Object{crashingPod("prod", "api-7d9", sel)}, "", "a container ran out of memory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs := fake.NewClientset(c.objects...)
			k := &Kubernetes{Client: cs, Now: func() time.Time { return kubeNow }}
			ev, err := k.Gather(context.Background(), kubeDetail(c.labels))
			if err != nil {
				t.Fatal(err)
			}
			var said string
			for _, f := range ev.Facts {
				if strings.HasPrefix(f, "What changed") {
					said = f
				}
			}
			if said != c.fact {
				t.Errorf("what changed = %q\nwant           %q", said, c.fact)
			}
			if why, _ := culprit(Report{Kubernetes: ev.Kubernetes, Logs: ev.Logs}); why != c.culprit {
				t.Errorf("culprit = %q, want %q", why, c.culprit)
			}
		})
	}
}

// Events: warnings first, newest first, the last five; an event's time
// is its last sighting, else its series', its eventTime, its first.
func TestKubernetesEventsOrder(t *testing.T) {
	e := func(typ, reason string, last time.Duration) corev1.Event {
		return *event("prod", "api-7d9", "Pod", typ, reason, reason, 1, last)
	}
	series := e("Warning", "Unhealthy", 0)
	series.LastTimestamp = metav1.Time{}
	series.EventTime = metav1.NewMicroTime(kubeNow.Add(-20 * time.Minute))
	series.Series = &corev1.EventSeries{Count: 9, LastObservedTime: metav1.NewMicroTime(kubeNow.Add(-2 * time.Minute))}
	cases := []struct {
		name string
		in   []corev1.Event
		want []string // reasons in order
	}{
		{"warnings first, newest first", []corev1.Event{e("Normal", "Pulled", time.Minute), e("Warning", "BackOff", 5*time.Minute), e("Normal", "Started", 30*time.Second), e("Warning", "Failed", 4*time.Minute)},
			[]string{"Failed", "BackOff", "Started", "Pulled"}},
		{"a series goes by its last sighting", []corev1.Event{e("Warning", "BackOff", 3*time.Minute), series, e("Warning", "Failed", time.Minute)},
			[]string{"Failed", "Unhealthy", "BackOff"}},
		{"the last five", []corev1.Event{e("Normal", "A", 1), e("Normal", "B", 2), e("Normal", "C", 3), e("Normal", "D", 4), e("Normal", "E", 5), e("Normal", "F", 6), e("Warning", "G", time.Hour)},
			[]string{"G", "A", "B", "C", "D"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs := []runtime.Object{crashingPod("prod", "api-7d9", nil)}
			for i := range c.in {
				c.in[i].Name = fmt.Sprintf("ev%d", i)
				objs = append(objs, &c.in[i])
			}
			k := &Kubernetes{Client: fake.NewClientset(objs...), Now: func() time.Time { return kubeNow }}
			ev, err := k.Gather(context.Background(), kubeDetail(map[string]string{"namespace": "prod", "pod": "api-7d9"}))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range ev.Kubernetes {
				if f := strings.Fields(l); len(f) > 1 && (f[0] == "Warning" || f[0] == "Normal") {
					got = append(got, f[1])
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("events = %v, want %v", got, c.want)
			}
		})
	}
	if l := eventLine(series, kubeNow); l != "Warning Unhealthy on Pod api-7d9 (x9), 2m ago: Unhealthy" {
		t.Errorf("series line = %q", l)
	}
}

// fakeAPIServer answers the Kubernetes API paths a triage reads, as
// kube-apiserver does, and records what it was asked.
type fakeAPIServer struct {
	mu      sync.Mutex
	asked   []string
	pod     *corev1.Pod
	logs    string
	logCode int // status of the log endpoint, 0 for 200
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.asked = append(f.asked, r.URL.Path+"?"+r.URL.RawQuery)
	f.mu.Unlock()
	status := func(code int, reason metav1.StatusReason, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
			Code: int32(code), Reason: reason, Message: msg})
	}
	obj := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	base := "/api/v1/namespaces/" + f.pod.Namespace + "/pods/" + f.pod.Name
	switch r.URL.Path {
	case base:
		p := f.pod.DeepCopy()
		p.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
		obj(p)
	case base + "/log":
		if f.logCode != 0 {
			status(f.logCode, metav1.StatusReasonForbidden, `pods "`+f.pod.Name+`" is forbidden: User "system:serviceaccount:ops:oncall-bot" cannot get resource "pods/log"`)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, f.logs)
	case "/api/v1/namespaces/" + f.pod.Namespace + "/events":
		e := event(f.pod.Namespace, f.pod.Name, "Pod", "Warning", "BackOff", "Back-off restarting failed container api", 3, time.Minute)
		obj(corev1.EventList{TypeMeta: metav1.TypeMeta{Kind: "EventList", APIVersion: "v1"}, Items: []corev1.Event{*e}})
	default:
		name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		status(http.StatusNotFound, metav1.StatusReasonNotFound, `pods "`+name+`" not found`)
	}
}

// Through a kubeconfig and the real API paths: the log is the crashed
// run's, its last lines, bounded; a forbidden log is said and the rest
// stands; a missing pod is an error that names it.
func TestKubernetesAPIServer(t *testing.T) {
	api := &fakeAPIServer{pod: crashingPod("prod", "api-7d9", nil), logs: "one\ntwo\nthree\nfour\nOOM: killed process 1 (api)\n"}
	srv := httptest.NewServer(api)
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "` + srv.URL + `"}}]
users: [{name: bot, user: {token: test-token}}]
contexts: [{name: test, context: {cluster: test, user: bot}}]
current-context: test
`
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := NewKubernetes(kubeconfig, false, func() time.Time { return kubeNow })
	if err != nil {
		t.Fatal(err)
	}
	k.LogLines = 3
	d := kubeDetail(map[string]string{"namespace": "prod", "pod": "api-7d9"})
	ev, err := k.Gather(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if want := "api: three|api: four|api: OOM: killed process 1 (api)"; strings.Join(ev.Logs, "|") != want {
		t.Errorf("logs = %q, want %q", ev.Logs, want)
	}
	inOrder(t, ev.Kubernetes, []string{"Pod prod/api-7d9: Running", "Warning BackOff on Pod api-7d9 (x3), 1m ago", "Read the last 3 log lines of container api"})
	var logAsk, eventAsk string
	for _, a := range api.asked {
		switch {
		case strings.HasSuffix(strings.SplitN(a, "?", 2)[0], "/log"):
			logAsk = a
		case strings.Contains(a, "/events"):
			eventAsk = a
		}
	}
	for _, want := range []string{"container=api", "previous=true", "tailLines=3", fmt.Sprintf("limitBytes=%d", kubeLogBytes)} {
		if !strings.Contains(logAsk, want) {
			t.Errorf("log asked as %q, want %s", logAsk, want)
		}
	}
	for _, want := range []string{"fieldSelector=involvedObject.kind%3DPod%2CinvolvedObject.name%3Dapi-7d9", "limit=200"} {
		if !strings.Contains(eventAsk, want) {
			t.Errorf("events asked as %q, want %s", eventAsk, want)
		}
	}

	// Through the runner, the headline is in the summary.
	rep := Runner{Sources: []Source{k}, Now: func() time.Time { return kubeNow }}.Run(context.Background(), d)
	if rep.Status != "ready" || !strings.Contains(rep.Summary, "Pod api-7d9 in prod restarted 5 times, last OOMKilled 3m ago, now in CrashLoopBackOff.") ||
		len(rep.Kubernetes) == 0 || len(rep.Logs) != 3 {
		t.Errorf("report: %s %q, %d cluster lines, logs %q", rep.Status, rep.Summary, len(rep.Kubernetes), rep.Logs)
	}

	api.logCode = http.StatusForbidden
	ev, err = k.Gather(context.Background(), d)
	if err != nil {
		t.Fatalf("a forbidden log failed the source: %v", err)
	}
	if len(ev.Logs) != 0 || len(ev.Facts) != 1 {
		t.Errorf("logs %q, facts %q", ev.Logs, ev.Facts)
	}
	inOrder(t, ev.Kubernetes, []string{`The log of container api of pod prod/api-7d9 is not readable: pods "api-7d9" is forbidden: User "system:serviceaccount:ops:oncall-bot" cannot get resource "pods/log".`})

	_, err = k.Gather(context.Background(), kubeDetail(map[string]string{"namespace": "prod", "pod": "api-gone"}))
	if err == nil || !strings.Contains(err.Error(), "get pod prod/api-gone") || !apierrors.IsNotFound(err) {
		t.Errorf("err = %v, want a NotFound naming pod prod/api-gone", err)
	}
}

func TestKubernetesConfig(t *testing.T) {
	if _, err := NewKubernetes(filepath.Join(t.TempDir(), "missing"), false, time.Now); err == nil {
		t.Error("a missing kubeconfig was accepted")
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := NewKubernetes("", true, time.Now); err == nil || !strings.Contains(err.Error(), "kubernetes") {
		t.Errorf("in cluster outside a cluster: err = %v", err)
	}
}
