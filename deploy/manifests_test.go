package deploy

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The parts of Kubernetes objects these tests read; field names match case-insensitively, as
// encoding/json does.
type (
	object struct {
		APIVersion string `json:"apiVersion"`
		Kind       string
		Metadata   struct {
			Name        string
			Labels      map[string]string
			Annotations map[string]string
		}
		Data       map[string]string // ConfigMap
		StringData map[string]string // Secret
		Spec       struct {
			// Deployment
			Replicas *int
			Selector map[string]any // matchLabels, or a Service's plain labels
			Template podTemplate
			// CronJob
			Schedule, TimeZone, ConcurrencyPolicy string
			JobTemplate                           struct{ Spec jobSpec }
			// PersistentVolumeClaim
			AccessModes []string
			// PodDisruptionBudget
			MaxUnavailable, MinAvailable *int
			// Service
			Ports []struct {
				Name       string
				Port       int
				TargetPort any
			}
		}
	}
	jobSpec struct {
		Parallelism           *int
		BackoffLimit          *int
		ActiveDeadlineSeconds *int
		PodFailurePolicy      *struct {
			Rules []struct {
				Action      string
				OnExitCodes *struct {
					ContainerName string
					Operator      string
					Values        []int
				}
				OnPodConditions []struct{ Type string }
			}
		}
		Template podTemplate
	}
	podTemplate struct {
		Metadata struct{ Labels map[string]string }
		Spec     podSpec
	}
	podSpec struct {
		RestartPolicy                string
		AutomountServiceAccountToken *bool
		SecurityContext              struct {
			RunAsNonRoot                   *bool
			RunAsUser, RunAsGroup, FSGroup *int64
			SeccompProfile                 struct{ Type string }
		}
		InitContainers, Containers []container
		Volumes                    []volume
	}
	container struct {
		Name, Image   string
		Command, Args []string
		EnvFrom       []struct{ ConfigMapRef, SecretRef *struct{ Name string } }
		Env           []struct {
			Name, Value string
			ValueFrom   *struct{ SecretKeyRef, ConfigMapKeyRef *struct{ Name, Key string } }
		}
		Ports []struct {
			Name          string
			ContainerPort int
		}
		LivenessProbe, ReadinessProbe *struct {
			HTTPGet *struct {
				Path string
				Port any
			} `json:"httpGet"`
			TimeoutSeconds int
		}
		Resources       struct{ Requests, Limits map[string]string }
		SecurityContext struct {
			AllowPrivilegeEscalation, ReadOnlyRootFilesystem, Privileged *bool
			RunAsUser                                                    *int64
			Capabilities                                                 struct{ Drop, Add []string }
		}
		VolumeMounts []struct {
			Name, MountPath string
			ReadOnly        bool
		}
	}
	volume struct {
		Name   string
		Secret *struct {
			SecretName  string
			DefaultMode *int
			Items       []struct{ Key, Path string }
		}
		EmptyDir              *struct{ Medium, SizeLimit string }
		PersistentVolumeClaim *struct{ ClaimName string }
	}
)

// readManifests reads every object of deploy/kubernetes/*.yaml, by kind and name.
func readManifests(t *testing.T) map[string]object {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	objs := map[string]object{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
			if o.Kind == "" {
				continue // comments only
			}
			if o.APIVersion == "" || o.Metadata.Name == "" {
				t.Errorf("%s, document %d: want apiVersion, kind and metadata.name", f, i+1)
			}
			key := o.Kind + "/" + o.Metadata.Name
			if _, dup := objs[key]; dup {
				t.Errorf("%s: %s defined twice", f, key)
			}
			objs[key] = o
		}
	}
	return objs
}

func need(t *testing.T, objs map[string]object, key string) object {
	t.Helper()
	o, ok := objs[key]
	if !ok {
		t.Fatalf("no %s in deploy/kubernetes", key)
	}
	return o
}

// secretFileMode is how the kubelet lays out a file of a secret volume: owned by root, with the
// volume's defaultMode (0644 unless set), plus group read and the pod's fsGroup as its group when
// the pod has one.
func secretFileMode(defaultMode *int, fsGroup *int64) (mode int, groupReadable bool) {
	mode = 0o644
	if defaultMode != nil {
		mode = *defaultMode
	}
	if fsGroup != nil {
		mode |= 0o440
	}
	return mode, fsGroup != nil && mode&0o040 != 0
}

// checkPod checks what every cashpool pod must have; it returns the main container.
func checkPod(t *testing.T, where string, p podTemplate, objs map[string]object, dockerUID int64) container {
	t.Helper()
	s := p.Spec
	sc := s.SecurityContext
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("%s: want runAsNonRoot and a non-root runAsUser", where)
	} else if *sc.RunAsUser != dockerUID {
		t.Errorf("%s: runAsUser %d, the image's USER is %d", where, *sc.RunAsUser, dockerUID)
	}
	if sc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("%s: seccompProfile %q, want RuntimeDefault", where, sc.SeccompProfile.Type)
	}
	if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
		t.Errorf("%s: cashpool never calls the Kubernetes API: automountServiceAccountToken: false", where)
	}
	vols := map[string]volume{}
	for _, v := range s.Volumes {
		vols[v.Name] = v
		switch {
		case v.Secret != nil:
			sec := need(t, objs, "Secret/"+v.Secret.SecretName)
			for _, it := range v.Secret.Items {
				if _, ok := sec.StringData[it.Key]; !ok {
					t.Errorf("%s: volume %s names key %s the Secret lacks", where, v.Name, it.Key)
				}
			}
			if v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o400 {
				t.Errorf("%s: secret volume %s: want defaultMode 0400", where, v.Name)
			}
		case v.PersistentVolumeClaim != nil:
			need(t, objs, "PersistentVolumeClaim/"+v.PersistentVolumeClaim.ClaimName)
		}
	}
	if len(s.Containers) != 1 {
		t.Fatalf("%s: %d containers, want cashpool alone", where, len(s.Containers))
	}
	for _, c := range append(slices.Clone(s.InitContainers), s.Containers...) {
		cw := where + ", container " + c.Name
		csc := c.SecurityContext
		if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
			t.Errorf("%s: want allowPrivilegeEscalation: false", cw)
		}
		if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
			t.Errorf("%s: want readOnlyRootFilesystem: true", cw)
		}
		if !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 || (csc.Privileged != nil && *csc.Privileged) {
			t.Errorf("%s: want every capability dropped, none added, not privileged", cw)
		}
		if csc.RunAsUser != nil {
			t.Errorf("%s: runs as %d: every container runs as the pod's user", cw, *csc.RunAsUser)
		}
		if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
			t.Errorf("%s: want cpu and memory requests and a memory limit, got %+v", cw, c.Resources)
		}
		if i := strings.LastIndex(c.Image, ":"); i < 0 || strings.Contains(c.Image[i:], "/") || c.Image[i+1:] == "latest" {
			t.Errorf("%s: image %q: name a version, not latest", cw, c.Image)
		}
		for _, m := range c.VolumeMounts {
			if _, ok := vols[m.Name]; !ok {
				t.Errorf("%s: mounts undefined volume %s", cw, m.Name)
			}
		}
	}
	main := s.Containers[0]
	mounts := map[string]string{} // mount path → volume
	for _, m := range main.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if v, ok := vols[mounts["/tmp"]]; !ok || v.EmptyDir == nil {
		t.Errorf("%s: with a read-only root file system, /tmp must be an emptyDir", where)
	}
	for _, e := range main.EnvFrom {
		if e.ConfigMapRef != nil {
			need(t, objs, "ConfigMap/"+e.ConfigMapRef.Name)
		}
	}
	for _, e := range main.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			if _, ok := need(t, objs, "Secret/"+e.ValueFrom.SecretKeyRef.Name).StringData[e.ValueFrom.SecretKeyRef.Key]; !ok {
				t.Errorf("%s: %s names a key the Secret lacks", where, e.Name)
			}
		}
		if !strings.HasSuffix(e.Name, "_FILE") {
			continue
		}
		// cashpool refuses a secret file its group or others may read, and must be able to read it.
		dir, base := filepath.Dir(e.Value), filepath.Base(e.Value)
		v, ok := vols[mounts[dir]]
		switch {
		case !ok:
			t.Errorf("%s: %s=%s is on no volume", where, e.Name, e.Value)
		case v.Secret != nil:
			mode, groupReadable := secretFileMode(v.Secret.DefaultMode, sc.FSGroup)
			if mode&0o077 != 0 {
				t.Errorf("%s: %s is mode %04o in the container: cashpool refuses it", where, e.Value, mode)
			} else if !groupReadable {
				t.Errorf("%s: %s is root's, mode %04o: the pod's user cannot read it", where, e.Value, mode)
			}
		case v.EmptyDir != nil:
			if v.EmptyDir.Medium != "Memory" {
				t.Errorf("%s: %s: a copy of a secret belongs in memory, not on the node's disk", where, e.Value)
			}
			checkSecretCopy(t, where, s, vols, dir, base)
		default:
			t.Errorf("%s: %s is neither from a Secret nor a copy of one", where, e.Value)
		}
	}
	return main
}

// checkSecretCopy checks that an init container, running as the pod's user, copies the secret
// file base into dir readable by its owner only, from a secret volume it can read.
func checkSecretCopy(t *testing.T, where string, s podSpec, vols map[string]volume, dir, base string) {
	t.Helper()
	for _, c := range s.InitContainers {
		cmd := strings.Join(append(slices.Clone(c.Command), c.Args...), " ")
		var from, to string
		for _, m := range c.VolumeMounts {
			switch v := vols[m.Name]; {
			case v.Secret != nil && slices.ContainsFunc(v.Secret.Items, func(it struct{ Key, Path string }) bool { return it.Path == base }):
				if _, readable := secretFileMode(v.Secret.DefaultMode, s.SecurityContext.FSGroup); readable {
					from = m.MountPath + "/" + base
				}
			case m.MountPath == dir:
				to = dir + "/"
			}
		}
		if from != "" && to != "" && strings.Contains(cmd, "install -m 0400 ") && strings.Contains(cmd, " "+from+" ") && strings.HasSuffix(cmd, " "+to) {
			return
		}
	}
	t.Errorf("%s: no init container copies %s, readable by the pod's user, to %s with mode 0400", where, base, dir)
}

// onExit is what a Job's podFailurePolicy does when container exits with code: the first rule
// that matches decides; no rule matching counts the failure against backoffLimit.
func onExit(j jobSpec, container string, code int) string {
	if j.PodFailurePolicy == nil {
		return "Count"
	}
	for _, r := range j.PodFailurePolicy.Rules {
		e := r.OnExitCodes
		if e == nil || (e.ContainerName != "" && e.ContainerName != container) {
			continue
		}
		if slices.Contains(e.Values, code) == (e.Operator == "In") {
			return r.Action
		}
	}
	return "Count"
}

func dockerUID(t *testing.T) int64 {
	t.Helper()
	stages := readDockerfile(t, "../Dockerfile")
	for _, in := range stages[len(stages)-1].ins {
		if in[0] == "USER" {
			uid, _, _ := strings.Cut(in[1], ":")
			n, err := strconv.ParseInt(uid, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	t.Fatal("the Dockerfile's final stage has no numeric USER")
	return 0
}

func TestKubernetesCronJob(t *testing.T) {
	t.Parallel()
	objs := readManifests(t)
	cfg := need(t, objs, "ConfigMap/cashpool").Data
	cj := need(t, objs, "CronJob/cashpool-run").Spec
	job := cj.JobTemplate.Spec
	main := checkPod(t, "CronJob", job.Template, objs, dockerUID(t))
	if !slices.Equal(main.Args, []string{"run"}) {
		t.Errorf("CronJob runs %v, want [run]", main.Args)
	}
	if cj.ConcurrencyPolicy != "Forbid" {
		t.Errorf("CronJob concurrencyPolicy %q: two runs of a night at once must not be started", cj.ConcurrencyPolicy)
	}
	if cj.TimeZone != cfg["CASHPOOL_TZ"] || cj.Schedule != cfg["CASHPOOL_SCHEDULE"] {
		t.Errorf("CronJob %q in %q, settings say %q in %q", cj.Schedule, cj.TimeZone, cfg["CASHPOOL_SCHEDULE"], cfg["CASHPOOL_TZ"])
	}
	if job.Template.Spec.RestartPolicy != "Never" {
		t.Errorf("CronJob restartPolicy %q: a podFailurePolicy needs Never", job.Template.Spec.RestartPolicy)
	}
	track, err := time.ParseDuration(cfg["CASHPOOL_TRACK_FOR"])
	if err != nil {
		t.Fatalf("ConfigMap CASHPOOL_TRACK_FOR: %v", err)
	}
	if job.ActiveDeadlineSeconds == nil || time.Duration(*job.ActiveDeadlineSeconds)*time.Second < track+time.Hour {
		t.Errorf("CronJob activeDeadlineSeconds %v: want one, at least CASHPOOL_TRACK_FOR (%s) and an hour", job.ActiveDeadlineSeconds, track)
	}
	if job.BackoffLimit == nil || *job.BackoffLimit < 1 {
		t.Errorf("CronJob backoffLimit %v: a failure (exit 1) is retried", job.BackoffLimit)
	}
	// Exit status → what the Job does: 1 retried, 2 and 3 end it at once, failed and visible.
	for code, want := range map[int]string{1: "Count", 2: "FailJob", 3: "FailJob"} {
		if got := onExit(job, main.Name, code); got != want {
			t.Errorf("CronJob: exit %d → %s, want %s", code, got, want)
		}
	}
}

// TestKubernetesWorkers: the optional workers join the CronJob's night: the same schedule and time
// zone (so the same business date), more than one, a bad setting fails them at once.
func TestKubernetesWorkers(t *testing.T) {
	t.Parallel()
	objs := readManifests(t)
	run := need(t, objs, "CronJob/cashpool-run").Spec
	w := need(t, objs, "CronJob/cashpool-work").Spec
	job := w.JobTemplate.Spec
	main := checkPod(t, "workers' CronJob", job.Template, objs, dockerUID(t))
	if !slices.Equal(main.Args, []string{"work"}) {
		t.Errorf("workers' CronJob runs %v, want [work]", main.Args)
	}
	if w.Schedule != run.Schedule || w.TimeZone != run.TimeZone {
		t.Errorf("workers start %q in %q, the run %q in %q: they would join another date", w.Schedule, w.TimeZone, run.Schedule, run.TimeZone)
	}
	if w.ConcurrencyPolicy != "Forbid" {
		t.Errorf("workers' CronJob concurrencyPolicy %q, want Forbid", w.ConcurrencyPolicy)
	}
	if job.Parallelism == nil || *job.Parallelism < 2 {
		t.Errorf("workers' parallelism %v: want several", job.Parallelism)
	}
	if job.Template.Spec.RestartPolicy != "Never" || job.ActiveDeadlineSeconds == nil {
		t.Errorf("workers' CronJob: want restartPolicy Never and an activeDeadlineSeconds")
	}
	for code, want := range map[int]string{1: "Count", 2: "FailJob"} {
		if got := onExit(job, main.Name, code); got != want {
			t.Errorf("workers' CronJob: exit %d → %s, want %s", code, got, want)
		}
	}
}

func TestKubernetesServe(t *testing.T) {
	t.Parallel()
	objs := readManifests(t)
	cfg := need(t, objs, "ConfigMap/cashpool").Data
	d := need(t, objs, "Deployment/cashpool").Spec
	main := checkPod(t, "Deployment", d.Template, objs, dockerUID(t))
	if !slices.Equal(main.Args, []string{"serve"}) {
		t.Errorf("Deployment runs %v, want [serve]", main.Args)
	}
	labels := d.Template.Metadata.Labels
	selects := func(sel map[string]any) bool {
		if m, ok := sel["matchLabels"].(map[string]any); ok {
			sel = m
		}
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	if !selects(d.Selector) {
		t.Errorf("Deployment selector %v does not select its pods %v", d.Selector, labels)
	}
	replicas := 1
	if d.Replicas != nil {
		replicas = *d.Replicas
	}
	if replicas < 2 {
		t.Errorf("Deployment replicas %d: run two, one leads and one stands by", replicas)
	}
	// Two replicas mount the data volume at once.
	for _, v := range d.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			pvc := need(t, objs, "PersistentVolumeClaim/"+v.PersistentVolumeClaim.ClaimName).Spec
			if replicas > 1 && !slices.Contains(pvc.AccessModes, "ReadWriteMany") {
				t.Errorf("PVC %s is %v: %d replicas mount it, want ReadWriteMany", v.PersistentVolumeClaim.ClaimName, pvc.AccessModes, replicas)
			}
		}
	}

	// Probes, on the port serve listens on.
	_, port, err := net.SplitHostPort(cfg["CASHPOOL_HTTP_ADDR"])
	if err != nil || strings.HasPrefix(cfg["CASHPOOL_HTTP_ADDR"], "127.") {
		t.Fatalf("ConfigMap CASHPOOL_HTTP_ADDR %q: want an address the kubelet can reach", cfg["CASHPOOL_HTTP_ADDR"])
	}
	named := map[string]int{}
	for _, p := range main.Ports {
		named[p.Name] = p.ContainerPort
		if strconv.Itoa(p.ContainerPort) != port {
			t.Errorf("container port %d, serve listens on %s", p.ContainerPort, port)
		}
	}
	for name, c := range map[string]struct {
		probe *struct {
			HTTPGet *struct {
				Path string
				Port any
			} `json:"httpGet"`
			TimeoutSeconds int
		}
		path string
	}{"liveness": {main.LivenessProbe, "/healthz"}, "readiness": {main.ReadinessProbe, "/readyz"}} {
		switch {
		case c.probe == nil || c.probe.HTTPGet == nil:
			t.Errorf("Deployment: no %s probe", name)
		case c.probe.HTTPGet.Path != c.path:
			t.Errorf("Deployment %s probe: %s, want %s", name, c.probe.HTTPGet.Path, c.path)
		case named[c.probe.HTTPGet.Port.(string)] == 0:
			t.Errorf("Deployment %s probe: port %v is no named container port", name, c.probe.HTTPGet.Port)
		case c.probe.TimeoutSeconds <= 3:
			t.Errorf("Deployment %s probe: timeoutSeconds %d, /readyz takes up to 3s to say the database does not answer", name, c.probe.TimeoutSeconds)
		}
	}

	pdb := need(t, objs, "PodDisruptionBudget/cashpool").Spec
	if !selects(pdb.Selector) {
		t.Errorf("PodDisruptionBudget selects %v, not the Deployment's pods %v", pdb.Selector, labels)
	}
	switch {
	case pdb.MaxUnavailable != nil && (*pdb.MaxUnavailable < 1 || *pdb.MaxUnavailable >= replicas):
		t.Errorf("PodDisruptionBudget maxUnavailable %d of %d replicas: drains must go one at a time and go", *pdb.MaxUnavailable, replicas)
	case pdb.MinAvailable != nil && (*pdb.MinAvailable < 1 || *pdb.MinAvailable >= replicas):
		t.Errorf("PodDisruptionBudget minAvailable %d of %d replicas: drains must go one at a time and go", *pdb.MinAvailable, replicas)
	case pdb.MaxUnavailable == nil && pdb.MinAvailable == nil:
		t.Errorf("PodDisruptionBudget: no budget")
	}

	svc := need(t, objs, "Service/cashpool")
	if !selects(svc.Spec.Selector) {
		t.Errorf("Service cashpool does not select the Deployment's pods %v", labels)
	}
	if len(svc.Spec.Ports) != 1 || named[svc.Spec.Ports[0].TargetPort.(string)] == 0 {
		t.Errorf("Service ports %+v: want one, targeting the container's named port", svc.Spec.Ports)
	}
}
