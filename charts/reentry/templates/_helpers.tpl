{{/* Names and labels shared by every template. */}}

{{- define "reentry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "reentry.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "reentry.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "reentry.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "reentry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "reentry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "reentry.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "reentry.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "reentry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "reentry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "reentry.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
RBAC. Every rule below is a call the operator makes; docs/install.md says which code makes it.
Framework rules are kopf's own; application rules are reentry's checks, actions and targets.
*/}}

{{/* Framework (kopf), in every namespace it watches. */}}
{{- define "reentry.rules.framework" -}}
# kopf lists and watches the plans, and patches them: its progress annotations and the
# finalizer that lets a deleted plan release its pods first. (The controller lists them too:
# a pod is held by any plan whose selector matches it.)
- apiGroups: [reentry.dev]
  resources: [recoveryplans]
  verbs: [list, watch, patch]
# kopf posts the plan's Events (phase changes, stage transitions).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}

{{/* Framework (kopf), calls that have no namespace: runtime discovery of CRDs and namespaces. */}}
{{- define "reentry.rules.frameworkCluster" -}}
# kopf notices the CRD being installed, upgraded or removed while it runs.
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
# kopf follows namespaces appearing and going (namespace patterns; cluster-wide watching).
- apiGroups: [""]
  resources: [namespaces]
  verbs: [list, watch]
{{- end }}

{{/* Application (reentry), in every namespace it watches. Secrets are separate (reentry.rules.secrets). */}}
{{- define "reentry.rules.application" -}}
# kube.py: the plan's status is a subresource, written with a merge patch.
- apiGroups: [reentry.dev]
  resources: [recoveryplans/status]
  verbs: [patch]
# handlers.py: the caches of pods, Services and EndpointSlices follow their watches (list once, then
# watch); kube.py lists a namespace's pods once when a plan is deleted; leases check: the holder
# pod by name.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
# kube.py: opening a pod's readiness gate (reentry.dev/released) is a patch of its status.
- apiGroups: [""]
  resources: [pods/status]
  verbs: [patch]
# endpoints check (get, list) and the caches (list, watch): the Service exists, its EndpointSlices
# count ready endpoints.
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
# Every traffic target is read (get), written (patch) and, while a ramp is under way, followed by
# a watch of that one object (watch, with a metadata.name field selector).
# workload check (get); scale traffic target (patch of spec.replicas).
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, patch, watch]
# hpa traffic target: minReplicas/maxReplicas recalibrated.
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, patch, watch]
# configMapKey traffic target (get, patch, watch); key sources of identity checks (get).
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, patch, watch]
# httpRoute traffic target: backend weights.
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [get, patch, watch]
# ingressNginx traffic target: canary-weight annotations.
- apiGroups: [networking.k8s.io]
  resources: [ingresses]
  verbs: [get, patch, watch]
# job action: the Job is created once, then followed to Complete or Failed.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [create, get]
# leases check (get by name, list by selector); releaseLeases action (delete at the version judged stale).
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, delete]
# serviceAccountToken check: a TokenRequest for the ServiceAccount the plan names.
- apiGroups: [""]
  resources: [serviceaccounts/token]
  verbs: [create]
{{- end }}

{{/* Application (reentry): Secrets are read by name (identity checks, HTTP credentials), never listed. */}}
{{- define "reentry.rules.secrets" -}}
# identity checks (certificate, signingKeys, secretFreshness) and HTTP credentials: a Secret by name.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}

{{/* Application (reentry), calls that have no namespace. */}}
{{- define "reentry.rules.applicationCluster" -}}
# serviceAccountToken check: the TokenReview of the token it requested.
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
{{- end }}

{{- define "reentry.rules.extra" -}}
{{- with .Values.rbac.extraRules }}
# Extra rules from values (rbac.extraRules): kinds the plans of this installation name.
{{ toYaml . }}
{{- end }}
{{- end }}
