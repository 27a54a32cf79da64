{{/* Names and labels shared by every manifest of the chart. */}}

{{- define "hanami.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hanami.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hanami.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "hanami.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hanami.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hanami.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* "repository:tag" of (dict "image" .Values.image "root" $); the tag defaults to appVersion. */}}
{{- define "hanami.image" -}}
{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end }}

{{/* The Secret holding token-key and admin-passphrase. */}}
{{- define "hanami.credentialsSecret" -}}
{{- .Values.existingSecret | default (include "hanami.fullname" .) }}
{{- end }}

{{- define "hanami.postgresqlName" -}}
{{- printf "%s-postgresql" (include "hanami.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hanami.rayName" -}}
{{- printf "%s-ray" (include "hanami.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A value of the chart's Secret: the one given, else the one the Secret in the cluster already
holds (so upgrades keep generated keys and passphrases), else a new random one.
Call with (dict "root" $ "key" "token-key" "given" .Values.tokenKey "length" 48).
*/}}
{{- define "hanami.secretValue" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace (include "hanami.fullname" .root) }}
{{- $kept := dig "data" .key "" ($existing | default dict) }}
{{- if .given }}{{ .given }}
{{- else if $kept }}{{ $kept | b64dec }}
{{- else }}{{ randAlphaNum (int .length) }}
{{- end }}
{{- end }}

{{/* "true" when the API pods use PostgreSQL, "" when SQLite in the data root. */}}
{{- define "hanami.usesPostgres" -}}
{{- if or .Values.database.url .Values.postgresql.enabled }}true{{ end }}
{{- end }}

{{/* Settings that cannot work together fail the rendering with a message. */}}
{{- define "hanami.validate" -}}
{{- if and .Values.database.url .Values.postgresql.enabled }}
{{- fail "database.url and postgresql.enabled exclude each other: use one PostgreSQL" }}
{{- end }}
{{- if gt (int .Values.replicaCount) 1 }}
{{- if not (include "hanami.usesPostgres" .) }}
{{- fail "replicaCount > 1 needs PostgreSQL: set database.url or postgresql.enabled (SQLite serves one pod)" }}
{{- end }}
{{- if and .Values.persistence.enabled (not .Values.persistence.existingClaim) (ne .Values.persistence.accessMode "ReadWriteMany") }}
{{- fail "replicaCount > 1 needs a data root every pod can write: persistence.accessMode ReadWriteMany (or an existingClaim that is)" }}
{{- end }}
{{- if not .Values.persistence.enabled }}
{{- fail "replicaCount > 1 needs persistence.enabled: the pods share the data root" }}
{{- end }}
{{- end }}
{{- if and .Values.ray.enabled (not .Values.persistence.existingClaim) (ne .Values.persistence.accessMode "ReadWriteMany") }}
{{- fail "ray.enabled needs a data root the Ray pods share: persistence.accessMode ReadWriteMany (or an existingClaim that is)" }}
{{- end }}
{{- end }}

{{/* The data root's volume source: the claim, or an emptyDir without persistence. */}}
{{- define "hanami.dataVolume" -}}
{{- if .Values.persistence.enabled -}}
persistentVolumeClaim:
  claimName: {{ .Values.persistence.existingClaim | default (include "hanami.fullname" .) }}
{{- else -}}
emptyDir: {}
{{- end }}
{{- end }}
