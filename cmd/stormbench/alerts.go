package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Alert names loosely follow the kubernetes-mixin and node-exporter rule
// sets, so label sets look like a real cluster's; teams are label values
// (all routed to the one configured team), as Alertmanager groups by them.
var (
	alertNames = []string{"KubePodCrashLooping", "KubeDeploymentReplicasMismatch", "NodeFilesystemSpaceFillingUp",
		"NodeHighNumberConntrackEntriesUsed", "KubePersistentVolumeFillingUp", "TargetDown", "CPUThrottlingHigh",
		"KubeContainerWaiting", "NodeClockNotSynchronising", "PrometheusRuleFailures", "KubeAPIErrorBudgetBurn",
		"AlertmanagerFailedToSendAlerts", "NodeMemoryHighUtilization", "KubeJobFailed", "KubeHpaMaxedOut"}
	teamLabels = []string{"platform", "storage", "network", "billing", "checkout", "search", "auth", "ingest"}
)

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// webhookBody is an Alertmanager webhook (version 4) carrying alerts.
func webhookBody(alerts []amAlert, group map[string]string) []byte {
	key := "{}:{"
	for _, k := range []string{"alertname", "instance", "team"} {
		if v, ok := group[k]; ok {
			key += fmt.Sprintf("%s=%q,", k, v)
		}
	}
	key += "}"
	b, _ := json.Marshal(map[string]any{
		"version": "4", "groupKey": key, "truncatedAlerts": 0, "status": "firing",
		"receiver": "oncall-bot", "groupLabels": group, "commonLabels": group,
		"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager.monitoring:9093", "alerts": alerts,
	})
	return b
}

func fingerprint(salt string, i int) string {
	h := uint64(14695981039346656037)
	for _, c := range []byte(salt + strconv.Itoa(i)) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return fmt.Sprintf("%016x", h)
}

// stormAlert is the i-th alert of a storm: its own instance, so each is
// its own incident under group_by [alertname, instance].
func stormAlert(prefix string, i int, start time.Time) amAlert {
	name := alertNames[i%len(alertNames)]
	sev := "warning"
	if i%3 == 0 {
		sev = "critical"
	}
	inst := fmt.Sprintf("%s-%d", prefix, i)
	return amAlert{
		Status: "firing",
		Labels: map[string]string{"alertname": name, "instance": inst, "severity": sev,
			"team": teamLabels[i%len(teamLabels)], "cluster": fmt.Sprintf("prod-%d", i%3), "job": "node-exporter"},
		Annotations: map[string]string{"summary": fmt.Sprintf("%s on %s", name, inst),
			"description": fmt.Sprintf("%s has been failing on %s for more than 5 minutes.", name, inst)},
		StartsAt:     start,
		GeneratorURL: "http://prometheus.monitoring:9090/graph?g0.expr=up&g0.tab=1",
		Fingerprint:  fingerprint(prefix, i),
	}
}

// stormBodies cuts n storm alerts into webhook bodies of batch alerts,
// and says how many alerts each carries.
func stormBodies(prefix string, n, batch int) (bodies [][]byte, alerts []int) {
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	for i := 0; i < n; i += batch {
		var chunk []amAlert
		for k := i; k < min(i+batch, n); k++ {
			chunk = append(chunk, stormAlert(prefix, k, start))
		}
		bodies = append(bodies, webhookBody(chunk, map[string]string{}))
		alerts = append(alerts, len(chunk))
	}
	return bodies, alerts
}

// probeBody is one new critical alert in a group of its own.
func probeBody(name string) []byte {
	a := amAlert{
		Status:       "firing",
		Labels:       map[string]string{"alertname": "StormProbe", "instance": name, "severity": "critical"},
		Annotations:  map[string]string{"summary": "probe " + name},
		StartsAt:     time.Now().UTC().Truncate(time.Millisecond),
		GeneratorURL: "http://prometheus.monitoring:9090/graph?g0.expr=probe",
		Fingerprint:  fingerprint("probe/"+name, 0),
	}
	return webhookBody([]amAlert{a}, map[string]string{"alertname": "StormProbe", "instance": name})
}

// freshGen makes request bodies of alerts that were never sent before:
// request r carries alerts r*batch .. r*batch+batch-1, all of one group
// (alertname, team), as Alertmanager groups them. Bodies are appended to
// a buffer from byte templates, so making one costs the client little.
type freshGen struct {
	batch int
	start string // RFC 3339
	epoch string // keeps two runs' alerts apart
}

func newFreshGen(batch int) *freshGen {
	return &freshGen{batch: batch, start: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
		epoch: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
}

func (g *freshGen) group(r int64) (string, string) {
	n := int64(len(alertNames) * len(teamLabels))
	k := r % n
	return alertNames[k%int64(len(alertNames))], teamLabels[k/int64(len(alertNames))]
}

// appendAlert writes one alert object; webhook adds the fields only the
// webhook carries (status, endsAt, fingerprint).
func (g *freshGen) appendAlert(b []byte, seq int64, name, team string, webhook bool) []byte {
	id := strconv.FormatInt(seq, 10)
	b = append(b, `{`...)
	if webhook {
		b = append(b, `"status":"firing",`...)
	}
	b = append(b, `"labels":{"alertname":"`...)
	b = append(b, name...)
	b = append(b, `","team":"`...)
	b = append(b, team...)
	b = append(b, `","instance":"10.`...)
	b = strconv.AppendInt(b, seq>>16&255, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, seq>>8&255, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, seq&255, 10)
	b = append(b, `:9100","pod":"`...)
	b = append(b, team...)
	b = append(b, '-')
	b = append(b, g.epoch...)
	b = append(b, '-')
	b = append(b, id...)
	b = append(b, `","severity":"warning","cluster":"prod-1","job":"kube-state-metrics"},"annotations":{"summary":"`...)
	b = append(b, name...)
	b = append(b, ` in `...)
	b = append(b, team...)
	b = append(b, `","description":"Pod `...)
	b = append(b, id...)
	b = append(b, ` has been in a bad state for more than 15 minutes."},"startsAt":"`...)
	b = append(b, g.start...)
	b = append(b, `","generatorURL":"http://prometheus.monitoring:9090/graph?g0.expr=up"`...)
	if webhook {
		b = append(b, `,"endsAt":"0001-01-01T00:00:00Z","fingerprint":"`...)
		b = append(b, fingerprint(g.epoch, int(seq))...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// webhook appends request r as an Alertmanager webhook (for the bot).
func (g *freshGen) webhook(b []byte, r int64) []byte {
	name, team := g.group(r)
	b = append(b, `{"version":"4","groupKey":"{}:{alertname=\"`...)
	b = append(b, name...)
	b = append(b, `\", team=\"`...)
	b = append(b, team...)
	b = append(b, `\"}","truncatedAlerts":0,"status":"firing","receiver":"oncall-bot","groupLabels":{"alertname":"`...)
	b = append(b, name...)
	b = append(b, `","team":"`...)
	b = append(b, team...)
	b = append(b, `"},"commonLabels":{"alertname":"`...)
	b = append(b, name...)
	b = append(b, `","team":"`...)
	b = append(b, team...)
	b = append(b, `"},"commonAnnotations":{},"externalURL":"http://alertmanager.monitoring:9093","alerts":[`...)
	for k := range g.batch {
		if k > 0 {
			b = append(b, ',')
		}
		b = g.appendAlert(b, r*int64(g.batch)+int64(k), name, team, true)
	}
	return append(b, "]}"...)
}

// postable appends request r as Alertmanager's own /api/v2/alerts body.
func (g *freshGen) postable(b []byte, r int64) []byte {
	name, team := g.group(r)
	b = append(b, '[')
	for k := range g.batch {
		if k > 0 {
			b = append(b, ',')
		}
		b = g.appendAlert(b, r*int64(g.batch)+int64(k), name, team, false)
	}
	return append(b, ']')
}
