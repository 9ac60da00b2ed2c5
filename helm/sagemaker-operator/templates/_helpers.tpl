{{- define "sagemaker-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sagemaker-operator.fullname" -}}
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

{{- define "sagemaker-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sagemaker-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sagemaker-operator.labels" -}}
{{ include "sagemaker-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "sagemaker-operator.serviceAccountName" -}}
{{- default (include "sagemaker-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "sagemaker-operator.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{- define "sagemaker-operator.webhookService" -}}
{{ include "sagemaker-operator.fullname" . }}-webhook
{{- end -}}

{{- /*
Cluster-scoped objects (ClusterRole, ClusterRoleBinding, the webhook configuration) carry the
release's namespace too: two releases of one name in two namespaces must not share them.
*/ -}}
{{- define "sagemaker-operator.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "sagemaker-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
