{{/* Names, labels and shared pod pieces. */}}

{{- define "supportflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-supportflow, or just <release> when it already contains the chart name. */}}
{{- define "supportflow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "supportflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "supportflow.labels" -}}
helm.sh/chart: {{ include "supportflow.chart" . }}
{{ include "supportflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: supportflow
{{- end -}}

{{- define "supportflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "supportflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component; call with (dict "ctx" $ "component" "worker"). */}}
{{- define "supportflow.componentLabels" -}}
{{ include "supportflow.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "supportflow.componentSelector" -}}
{{ include "supportflow.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "supportflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "supportflow.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* A digest pins the exact build; otherwise the tag (default: appVersion). */}}
{{- define "supportflow.image" -}}
{{- $repo := printf "%s/%s" .Values.image.registry .Values.image.repository | trimPrefix "/" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Fails the render with a clear message instead of deploying workers that cannot connect. */}}
{{- define "supportflow.kafkaBootstrap" -}}
{{- required "kafka.bootstrap is required: set it to your Kafka bootstrap servers, e.g. --set kafka.bootstrap=kafka-0.kafka:9092 (the chart never starts a broker)" .Values.kafka.bootstrap -}}
{{- end -}}

{{- define "supportflow.qdrantUrl" -}}
{{- if .Values.qdrant.enabled -}}
{{- printf "http://%s-qdrant:6333" .Release.Name -}}
{{- else -}}
{{- .Values.externalQdrant.url -}}
{{- end -}}
{{- end -}}

{{- define "supportflow.secretName" -}}
{{- default (printf "%s-secrets" (include "supportflow.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Config and secrets every container loads; the checksums roll pods when either changes. */}}
{{- define "supportflow.envFrom" -}}
- configMapRef:
    name: {{ include "supportflow.fullname" . }}-config
- secretRef:
    name: {{ include "supportflow.secretName" . }}
{{- end -}}

{{- define "supportflow.configChecksums" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end -}}

{{/* Writable scratch space; the root filesystem is read-only. */}}
{{- define "supportflow.scratchVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.scratchSizeLimit }}
- name: data
  emptyDir:
    sizeLimit: {{ .Values.scratchSizeLimit }}
{{- end -}}

{{- define "supportflow.scratchMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/supportflow
{{- end -}}

{{- define "supportflow.metricsPort" -}}
{{- if gt (int .Values.metrics.port) 0 }}
- name: metrics
  containerPort: {{ .Values.metrics.port }}
  protocol: TCP
{{- end }}
{{- end -}}

{{/* Pod spec fields shared by every workload; call with (dict "ctx" $ "cfg" .Values.worker). */}}
{{- define "supportflow.podCommon" -}}
serviceAccountName: {{ include "supportflow.serviceAccountName" .ctx }}
automountServiceAccountToken: {{ .ctx.Values.serviceAccount.automountServiceAccountToken }}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  {{- toYaml .ctx.Values.podSecurityContext | nindent 2 }}
{{- with .cfg.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .cfg.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .cfg.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .cfg.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Soft spread over nodes unless the user configured their own constraints. */}}
{{- define "supportflow.topologySpread" -}}
topologySpreadConstraints:
{{- if .cfg.topologySpreadConstraints }}
  {{- toYaml .cfg.topologySpreadConstraints | nindent 2 }}
{{- else }}
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "supportflow.componentSelector" (dict "ctx" .ctx "component" .component) | nindent 8 }}
{{- end }}
{{- end -}}

{{/* A topic's full name, as TopicSettings.full builds it; call with (dict "ctx" $ "name" "ingress.raw"). */}}
{{- define "supportflow.topicName" -}}
{{- $prefix := .ctx.Values.topics.prefix -}}
{{- if $prefix -}}
{{- printf "%s.%s" $prefix .name -}}
{{- else -}}
{{- .name -}}
{{- end -}}
{{- end -}}

{{/* The Kafka principal (KafkaUser name) of a component; call with (dict "ctx" $ "component" "worker"),
plus "key" when its kafka.acls.principals key differs from the component ("feedbackJoin"). */}}
{{- define "supportflow.kafkaPrincipal" -}}
{{- default (printf "%s-%s" (include "supportflow.fullname" .ctx) .component) (index .ctx.Values.kafka.acls.principals (default .component .key)) -}}
{{- end -}}

{{/* One literal ACL rule of a KafkaUser; call with (dict "type" "topic" "name" $topic "ops" (list "Read")). */}}
{{- define "supportflow.aclRule" -}}
- resource:
    type: {{ .type }}
    name: {{ .name | quote }}
    patternType: literal
  operations: {{ .ops | toJson }}
{{- end -}}

{{/* apiVersion, kind and metadata of a component's KafkaUser; call with (dict "ctx" $ "component" "worker"). */}}
{{- define "supportflow.kafkaUserHeader" -}}
{{- $a := .ctx.Values.kafka.acls -}}
apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaUser
metadata:
  name: {{ include "supportflow.kafkaPrincipal" . }}
  namespace: {{ default .ctx.Release.Namespace $a.namespace }}
  labels:
    {{- include "supportflow.componentLabels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
    strimzi.io/cluster: {{ required "kafka.acls.strimziCluster is required when kafka.acls.enabled is true: the name of your Strimzi Kafka cluster (the strimzi.io/cluster label of its KafkaUsers)" $a.strimziCluster }}
{{- end -}}

{{/* spec.authentication of every KafkaUser (none: ACLs only, the identity comes from elsewhere). */}}
{{- define "supportflow.kafkaUserAuthentication" -}}
{{- if ne .Values.kafka.acls.authentication "none" }}
authentication:
  type: {{ .Values.kafka.acls.authentication }}
{{- end }}
{{- end -}}


{{/* EnvVars of the Schema Registry credentials, by reference to their Secret (never a value in the
chart); only with schemaRegistry.url and basicAuth.existingSecret set. Every pod that encodes or
decodes records gets them. */}}
{{- define "supportflow.registryEnv" -}}
{{- $r := .Values.schemaRegistry -}}
{{- if and $r.url $r.basicAuth.existingSecret }}
- name: SUPPORTFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO
  valueFrom:
    secretKeyRef:
      name: {{ $r.basicAuth.existingSecret | quote }}
      key: {{ $r.basicAuth.key | quote }}
{{- end }}
{{- end -}}

{{/* The standard OpenTelemetry variables (docs/tracing.md) of the pods that make spans; the export
headers hold credentials, so they come from a Secret by reference. */}}
{{- define "supportflow.tracingEnv" -}}
{{- $t := .Values.tracing -}}
{{- if $t.enabled }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ required "tracing.endpoint is required when tracing.enabled is true: the OTLP/HTTP endpoint of your collector, e.g. http://otel-collector.observability:4318" $t.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/protobuf
{{- with $t.sampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ . | quote }}
{{- end }}
{{- with $t.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- with $t.resourceAttributes }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ . | quote }}
{{- end }}
{{- if $t.headers.existingSecret }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ $t.headers.existingSecret | quote }}
      key: {{ $t.headers.key | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The env list of a workload: tracing (when "tracing" is true), registry credentials, then the
component's extraEnv (last, so it can override). Empty when there is none of these. Call with
(dict "ctx" $ "tracing" true "extraEnv" $cfg.extraEnv). */}}
{{- define "supportflow.workloadEnv" -}}
{{- if .tracing }}
{{- include "supportflow.tracingEnv" .ctx }}
{{- end }}
{{- include "supportflow.registryEnv" .ctx }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}
